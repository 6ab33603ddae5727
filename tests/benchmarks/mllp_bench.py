"""MLLP benchmark: establishments' ADT feeds sending at once to a real `socle mllp`.

    .venv/bin/python tests/benchmarks/mllp_bench.py                       # SQLite
    .venv/bin/python tests/benchmarks/mllp_bench.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Loads N generated identities (14,000 by default), starts `socle mllp --workers W` on loopback
with one sending facility mapped to a key, then, for each scenario, opens C connections that
each send A28 messages creating new people (those of the load benchmark's `hl7` scenario), one
at a time as MLLP does (the next message once the ACK is in), for a bounded time. Prints
messages a second, p50/p99 of the round trip, the mean, the errors (ACKs other than AA,
connections lost), the CPU per message of the listener and its workers and the cores the senders
(this process) took. With `--rounds`, the scenarios run that many times, every other round in
reverse order.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from identity_match_bench import warm_up
from load_bench import a28, loaded_database, new_people
from server_cpu import cpu_seconds, descendants

from identity.hl7v2.mllp import END, frame
from referentials.core.auth import create_api_key
from referentials.core.db import make_engine, make_session_factory, session_scope
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
FACILITY = "CHFM"
# The messages each run may send, per second of its duration: more than any run sent (about 250
# a second at most), so that no run sends people an earlier one created.
PER_SECOND = 600


@dataclass
class Sent:
    """What one connection's sender saw."""

    latencies: list[float] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)
    lost: int = 0


def prepare(args: argparse.Namespace, workdir: Path) -> tuple[str, str, int, list[str]]:
    """A fresh database with the identities, the sending facility's key, and the messages."""
    url, schema, _, _ = loaded_database(args, workdir, "mllp")
    warm_up(url, schema)
    engine = make_engine(url, schema=schema)
    with session_scope(make_session_factory(engine)) as session:
        key, _ = create_api_key(
            session, client_name="CHFM engine", scopes=["identity:write"], finess="690999016"
        )
        key_id = key.id
    engine.dispose()
    needed = PER_SECOND * args.seconds * len(args.connections) * args.rounds
    messages = [a28(body, n) for n, body in enumerate(new_people(needed, args.seed + 1000))]
    return url, schema, key_id, messages


def listen(url: str, schema: str, key_id: int, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "SOCLE_DATABASE_URL": url,
        "SOCLE_DATABASE_SCHEMA": schema,
        "SOCLE_LOAD_DEMO_DATA": "false",
        "SOCLE_LOG_LEVEL": "WARNING",
        "SOCLE_HL7__FACILITY_KEYS": json.dumps({FACILITY: key_id}),
    }
    command = [sys.executable, "-m", "referentials.cli", "mllp", "--port", str(port)]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("`socle mllp` did not start") from None
            time.sleep(0.2)


def _ack_code(ack: bytes) -> str:
    msa = next(s for s in ack.decode("utf-8").split("\r") if s.startswith("MSA"))
    return msa.split("|")[1]


def send(port: int, messages: list[str], until: float, sent: Sent) -> None:
    """One establishment's connection: a message, its ACK, the next, until ``until``."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for message in messages:
            if time.monotonic() >= until:
                return
            start = time.perf_counter()
            try:
                sock.sendall(frame(message))
                data = b""
                while not data.endswith(END):
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed before the ACK")
                    data += chunk
            except OSError:
                sent.lost += 1
                return
            sent.latencies.append(time.perf_counter() - start)
            code = _ack_code(data[1 : -len(END)])
            if code != "AA":
                sent.refused[code] = sent.refused.get(code, 0) + 1


def run(port: int, pid: int, connections: int, messages: list[str], seconds: int) -> str:
    """One scenario: ``connections`` senders for ``seconds``; its table row."""
    share = len(messages) // connections
    senders = [Sent() for _ in range(connections)]
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=send, args=(port, messages[i * share :], until, senders[i]))
        for i in range(connections)
    ]
    listeners = descendants(pid)
    cpu, began, mine = cpu_seconds(listeners), time.monotonic(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed, cpu = time.monotonic() - began, cpu_seconds(listeners) - cpu
    senders_cpu = time.process_time() - mine
    latencies = sorted(x for s in senders for x in s.latencies)
    done = len(latencies)
    refused: dict[str, int] = {}
    for s in senders:
        for code, n in s.refused.items():
            refused[code] = refused.get(code, 0) + n
    errors = sum(refused.values()) + sum(s.lost for s in senders)
    p50 = statistics.quantiles(latencies, n=100)[49] if done > 1 else 0.0
    p99 = statistics.quantiles(latencies, n=100)[98] if done > 1 else 0.0
    rate = done / elapsed
    detail = f" ({', '.join(f'{n}×{c}' for c, n in sorted(refused.items()))})" if refused else ""
    return (
        f"| mllp x{connections} | {rate:.1f} | {p50 * 1000:.1f} | {p99 * 1000:.1f} "
        f"| {connections / rate * 1000 if rate else 0:.1f} | {errors}{detail} "
        f"| {cpu * 1000 / done if done else 0:.2f} | {senders_cpu / elapsed:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="sqlite")
    parser.add_argument("--identities", type=int, default=14_000)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--seconds", type=int, default=6, help="each scenario's duration")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, default=2, help="`socle mllp --workers`: 1 applies in the listener"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="socle-mllp-"))
    url = schema = ""
    try:
        url, schema, key_id, messages = prepare(args, workdir)
        process, port = listen(url, schema, key_id, args.workers)
        database = "postgresql" if schema else "sqlite"
        print(f"# {database}, {args.identities} identities, `socle mllp --workers {args.workers}`")
        print(
            "| scenario | msg/s | p50 ms | p99 ms | mean ms | errors | listener CPU ms/msg "
            "| senders' cores |"
        )
        print("|---|---|---|---|---|---|---|---|")
        size = PER_SECOND * args.seconds
        starts = itertools.count(0, size)
        try:
            for round_ in range(args.rounds):
                order = args.connections if round_ % 2 == 0 else args.connections[::-1]
                for connections in order:
                    start = next(starts)
                    share = messages[start : start + size]
                    print(run(port, process.pid, connections, share, args.seconds), flush=True)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
    finally:
        if schema:
            with make_engine(args.database_url).begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
