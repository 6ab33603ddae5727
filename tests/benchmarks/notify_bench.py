"""Deliver a burst of identity events to five webhook subscribers: lag, throughput, recovery.

    .venv/bin/python tests/benchmarks/notify_bench.py                      # SQLite, 10,000 events
    .venv/bin/python tests/benchmarks/notify_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_notify

Five subscribers (each its own HTTP receiver, in a process of its own): three healthy, one
slow (``--slow-ms`` per answer), one down (connections refused) until half the events are
written. The events (identity.updated over ``--identities`` identities) are written at
``--rate`` per second in transactions of ``--per-tx``, as the identity service writes them (the
outbox, relayed after commit); the delivery worker is a separate `socle notify` process. It
prints the healthy subscribers' lag (receipt minus the event's time) during the burst, the
throughput, when the slow and the down one had everything, and checks that every subscriber got
every event, in order per identity, duplicates only with the same idempotency key.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from identity.referential.history import emit_many  # noqa: E402
from referentials import notify_wiring  # noqa: E402
from referentials.core.auth import SYSTEM, create_api_key  # noqa: E402
from referentials.core.db import make_engine, make_session_factory, session_scope  # noqa: E402
from referentials.core.notify import service  # noqa: E402
from referentials.core.notify.schemas import SubscriptionCreate  # noqa: E402
from referentials.core.settings import Settings  # noqa: E402
from referentials.migrations import upgrade  # noqa: E402

NAMES = ["healthy-1", "healthy-2", "healthy-3", "slow", "down"]


def receiver(name: str, port: int, slow_ms: int, control: Any) -> None:
    """One subscriber's HTTP server, in a process of its own (as on its own machine); the
    'down' one opens only when told. Sends back what it received when asked."""
    import threading

    log: list[tuple[float, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if slow_ms:
                time.sleep(slow_ms / 1000)
            log.append((time.time(), body.decode()))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    if name == "down":
        control.recv()  # "up"
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    control.recv()  # "dump"
    control.send(log)


def parse_at(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def analyse(logs: dict[str, list[tuple[float, str]]], total: int) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for name, entries in logs.items():
        events = [(at, json.loads(body)) for at, body in entries]
        ids = {e["id"] for _, e in events}
        last: dict[int, int] = {}
        out_of_order = 0
        bodies: dict[str, str] = {}
        bad_duplicates = 0
        for _, e in events:
            identity = e["data"]["identity_id"]
            if e["cursor"] < last.get(identity, 0):
                out_of_order += 1
            last[identity] = e["cursor"]
            stable = json.dumps({k: v for k, v in e.items() if k != "attempt"}, sort_keys=True)
            if bodies.setdefault(e["id"], stable) != stable:
                bad_duplicates += 1
        lags = sorted(at - parse_at(e["occurred_at"]) for at, e in events)
        report[name] = {
            "received": len(events),
            "distinct": len(ids),
            "all": len(ids) == total,
            "duplicates": len(events) - len(ids),
            "duplicates_with_another_body": bad_duplicates,
            "out_of_order_per_identity": out_of_order,
            "lag_p50": round(lags[len(lags) // 2], 3) if lags else None,
            "lag_p99": round(lags[int(len(lags) * 0.99)], 3) if lags else None,
            "lag_max": round(lags[-1], 3) if lags else None,
            "last_at": max((at for at, _ in events), default=None),
        }
    return report


def setup(url: str, ports: dict[str, int], concurrency: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    notify_wiring.install(Settings(database_url=url))
    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        for name in NAMES:
            create_api_key(session, client_name=name, scopes=["identity:read", "identity:merge"])
            service.create(
                session,
                SYSTEM,
                data=SubscriptionCreate(
                    client_name=name,
                    channel="webhook",
                    config={"url": f"http://127.0.0.1:{ports[name]}/hook"},
                    event_types=["identity.updated"],
                    concurrency=concurrency,
                ),
            )
    engine.dispose()


def worker(url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SOCLE_DATABASE_URL": url, "SOCLE_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "referentials.cli", "notify"], cwd=ROOT, env=env)


def burst(url: str, args: argparse.Namespace, control: Any) -> tuple[float, float]:
    """Write the events at the rate asked; bring the down subscriber back halfway."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    started = time.time()
    written = 0
    while written < args.events:
        count = min(args.per_tx, args.events - written)
        batch = [
            ("identity.updated", 1 + (written + i) % args.identities, {"changed": ["used_name"]})
            for i in range(count)
        ]
        with session_scope(factory) as session:
            emit_many(session, SYSTEM, batch)
        before = written
        written += count
        if before < args.events // 2 <= written:
            control.send("up")
        pause = started + written / args.rate - time.time()
        if pause > 0:
            time.sleep(pause)
    ended = time.time()
    engine.dispose()
    return started, ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default="sqlite:////tmp/socle-notify-bench/notify.db")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--identities", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=250.0, help="events written per second")
    parser.add_argument("--per-tx", type=int, default=10)
    parser.add_argument("--slow-ms", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--port", type=int, default=18150)
    args = parser.parse_args()
    url = args.database_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", ".writers"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    ports = {name: args.port + i for i, name in enumerate(NAMES)}
    setup(url, ports, args.concurrency)
    pipes = {name: mp.Pipe() for name in NAMES}
    processes = [
        mp.Process(
            target=receiver,
            args=(name, ports[name], args.slow_ms if name == "slow" else 0, pipes[name][1]),
        )
        for name in NAMES
    ]
    for process in processes:
        process.start()
    delivering = worker(url)
    _wait_for_worker(url)
    started, ended = burst(url, args, pipes["down"][0])
    print(f"{args.events} events written in {ended - started:.1f} s", flush=True)
    deadline = time.time() + args.timeout
    done = False
    while time.time() < deadline and not done:
        time.sleep(2)
        done = _all_delivered(url, args.events)
    logs = {}
    for name in NAMES:
        pipes[name][0].send("dump")
        logs[name] = pipes[name][0].recv()
    delivering.terminate()
    delivering.wait(timeout=30)
    for process in processes:
        process.join(timeout=10)
    report = analyse(logs, args.events)
    _print(report, args, started, ended, done)


def _wait_for_worker(url: str) -> None:
    """Until the worker process leads (it has started, migrated, won the election)."""
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        for _ in range(600):
            with engine.connect() as conn:
                held = conn.execute(
                    text("SELECT COUNT(*) FROM run_locks WHERE name = 'leader:notify'")
                ).scalar_one()
            if held:
                time.sleep(1)  # its first fan-out round and subscription threads
                return
            time.sleep(0.1)
    finally:
        engine.dispose()
    raise SystemExit("the notify worker did not start")


def _all_delivered(url: str, total: int) -> bool:
    from sqlalchemy import text

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            delivered = conn.execute(
                text("SELECT COUNT(*) FROM notify_deliveries WHERE status = 'delivered'")
            ).scalar_one()
    finally:
        engine.dispose()
    return int(delivered) >= total * len(NAMES)


def _print(
    report: dict[str, Any], args: argparse.Namespace, started: float, ended: float, done: bool
) -> None:
    healthy = [report[n] for n in NAMES[:3]]
    last_healthy = max(r["last_at"] or started for r in healthy)
    delivered = sum(r["received"] for r in healthy)
    load = os.getloadavg()
    print(
        f"rate asked {args.rate:g}/s, {args.events} events, {args.identities} identities, "
        f"slow {args.slow_ms} ms, concurrency {args.concurrency}, load {load[0]:.1f}"
    )
    print(
        f"healthy: {delivered} deliveries, {delivered / (last_healthy - started):.0f}/s, "
        f"done {last_healthy - ended:+.1f} s after the burst; lag p50 "
        f"{statistics.median(r['lag_p50'] for r in healthy):.3f} s, p99 "
        f"{max(r['lag_p99'] for r in healthy):.3f} s, "
        f"max {max(r['lag_max'] for r in healthy):.3f} s"
    )
    for name in NAMES:
        r = report[name]
        finished = (r["last_at"] or ended) - ended
        print(
            f"{name:10} received {r['received']:6} distinct {r['distinct']:6} all={r['all']} "
            f"dup={r['duplicates']} bad_dup={r['duplicates_with_another_body']} "
            f"disorder={r['out_of_order_per_identity']} p50={r['lag_p50']} p99={r['lag_p99']} "
            f"max={r['lag_max']} last {finished:+.1f} s after the burst"
        )
    print("every subscriber had every event" if done else "NOT all delivered before the timeout")


if __name__ == "__main__":
    main()
