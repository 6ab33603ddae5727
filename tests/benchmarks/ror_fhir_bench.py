"""Latency of the ROR `near` searches over HTTP at national size: uvicorn serving, wrk loading.

    .venv/bin/python -m tests.benchmarks.ror_generate --eg 100000 --out /tmp/ror_national
    .venv/bin/python -m tests.benchmarks.ror_fhir_bench --data /tmp/ror_national \\
        --database sqlite:////tmp/ror_fhir_bench.db
    .venv/bin/python -m tests.benchmarks.ror_fhir_bench --data /tmp/ror_national \\
        --database postgresql+psycopg://postgres@127.0.0.1:5432/bench_ror --schema bench
    (--load-only: load and stop; --reuse: query what a previous run loaded, without importing
    again — so the load can run apart from the measure)

Loads the generated FINESS+ extract and the 700,000-resource ROR, starts the real application
(uvicorn, its own worker processes, bound to 127.0.0.1), then runs wrk (a concurrent HTTP load
generator, Debian package `wrk`) for a bounded duration per scenario, each request a different
point of the territory and a different activité opérationnelle. Prints wrk's latency
percentiles and throughput, and the CPU the server's workers spent per request (from /proc):
on a loaded machine the latency also holds the wait for a core, the CPU does not. The server
is stopped at the end whatever happens.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from referentials.core.auth import create_api_key
from referentials.core.db import make_engine, make_session_factory, session_scope
from referentials.core.settings import DirectorySettings, RorSettings
from referentials.directory import imports
from referentials.migrations import upgrade
from ror_sync.sync import run_sync
from tests.benchmarks.ror_generate import DEPARTMENTS, place_position
from tests.conftest import free_port

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
SCENARIOS = {
    "FHIR near 30 km + specialty": "/fhir/ror/HealthcareService?near={lat}|{lon}|30|km"
    "&specialty={act}",
    "FHIR near 30 km + specialty + _include location": "/fhir/ror/HealthcareService?"
    "near={lat}|{lon}|30|km&specialty={act}&_include=HealthcareService:location",
    "FHIR near 30 km, first page of 20": "/fhir/ror/HealthcareService?near={lat}|{lon}|30|km",
    "REST orientation, commune + activity, 30 km": "/api/v1/ror/offers?commune={cog}"
    "&activity={act}&radius_km=30",
}


def fresh_schema(database: str, schema: str) -> None:
    """An empty PostgreSQL schema for this run (dropped first when it exists)."""
    engine = make_engine(database)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()


def load(database: str, schema: str, data: Path) -> None:
    if schema:
        fresh_schema(database, schema)
    engine = make_engine(database, schema=schema)
    upgrade(engine)
    factory = make_session_factory(engine)
    started = time.perf_counter()
    imports.run(
        engine,
        factory,
        source="finess",
        location=str(data / "finess" / "finess-structures-journalier-20260504.json"),
        trigger="bench",
        settings=DirectorySettings(max_removed_share=1.0),
    )
    run_sync(
        factory,
        str(data / "ror"),
        settings=RorSettings(),
        snapshot=lambda _s, _r, _d: 0,
        trigger="bench",
    )
    print(f"loaded FINESS + ROR in {time.perf_counter() - started:.0f} s", flush=True)
    if engine.dialect.name == "postgresql":
        # The planner's statistics, as autovacuum would gather them shortly after the load.
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def api_key(database: str, schema: str) -> str:
    """A ror:read key (the schema brought up to date first, before the workers start)."""
    engine = make_engine(database, schema=schema)
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        _, key = create_api_key(session, client_name="ror-bench", scopes=["ror:read"])
    engine.dispose()
    return key


def paths(template: str, count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        index = rng.randrange(len(DEPARTMENTS))
        lat, lon = place_position(rng, index)
        dept = DEPARTMENTS[index]
        cog = f"{dept}001" if dept not in ("2A", "2B") else f"{dept}004"
        act = f"{rng.randint(1, 400):03d}"
        found.append(template.format(lat=round(lat, 5), lon=round(lon, 5), act=act, cog=cog))
    return found


def lua_script(requests: list[str], key: str) -> str:
    listed = ",\n".join(f'  "{p}"' for p in requests)
    return (
        f"local paths = {{\n{listed}\n}}\nlocal i = math.random(#paths)\n"
        "request = function()\n  i = i % #paths + 1\n"
        f'  return wrk.format("GET", paths[i], {{["Authorization"] = "Bearer {key}"}})\nend\n'
    )


def serve(database: str, schema: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SOCLE_DATABASE_URL": database,
        "SOCLE_LOAD_DEMO_DATA": "false",
        "SOCLE_SCHEDULER__ENABLED": "false",
        "SOCLE_LIMITS__RATE_PER_MINUTE": "0",
    }
    if schema:
        env["SOCLE_DATABASE_SCHEMA"] = schema
    command = [sys.executable, "-m", "uvicorn", "--factory", "referentials.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen(command, env=env, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError("the server did not start")


def wrk(url: str, script: Path, duration: int, connections: int, threads: int) -> str:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    command += ["--timeout", "5s", "-s", str(script), url]
    return subprocess.run(command, capture_output=True, text=True, timeout=duration + 60).stdout


def summary(output: str) -> str:
    found = {
        p: float(v) * UNITS[u]
        for p, v, u in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return (
        f"p50 {found.get('50', 0):.1f} ms, p90 {found.get('90', 0):.1f} ms, "
        f"p99 {found.get('99', 0):.1f} ms, {float(rate.group(1)) if rate else 0:.0f} req/s, "
        f"non-2xx {errors.group(1) if errors else 0}"
    )


def server_cpu_seconds(pid: int) -> float:
    """CPU (user + system) used so far by the server's worker processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0.0
    for child in [pid, *map(int, children)]:
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run(args: argparse.Namespace, key: str) -> None:
    port = free_port()
    server = serve(args.database, args.schema, port, args.workers)
    try:
        with tempfile.TemporaryDirectory() as folder:
            for name, template in SCENARIOS.items():
                script = Path(folder) / "paths.lua"
                script.write_text(lua_script(paths(template, 500), key))
                base = f"http://127.0.0.1:{port}"
                wrk(base, script, 5, args.connections, args.threads)  # warm-up
                cpu = server_cpu_seconds(server.pid)
                output = wrk(base, script, args.duration, args.connections, args.threads)
                cpu = server_cpu_seconds(server.pid) - cpu
                done = re.search(r"(\d+) requests in", output)
                per_request = cpu * 1000 / int(done.group(1)) if done else 0.0
                print(
                    f"{name}: {summary(output)}, server CPU {per_request:.1f} ms per request; "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
                if args.verbose:
                    print(output)
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("/tmp/ror_national"))
    parser.add_argument("--database", default="sqlite:////tmp/ror_fhir_bench.db")
    parser.add_argument("--schema", default="", help="PostgreSQL schema (recreated)")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument(
        "--load-only", action="store_true", help="load the data and stop (measure later, --reuse)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--duration", type=int, default=30, help="seconds per scenario")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if not args.reuse:
        load(args.database, args.schema, args.data)
    if args.load_only:
        return
    run(args, api_key(args.database, args.schema))


if __name__ == "__main__":
    main()
