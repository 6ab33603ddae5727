"""Throughput of `socle import identities` on an establishment file, into a large referential.

    .venv/bin/python tests/benchmarks/bulk_import_bench.py --referential 1000000 --rows 100000
    .venv/bin/python tests/benchmarks/bulk_import_bench.py --referential 1000000 --rows 100000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    (SQLite: --reuse starts again from the referential a previous run loaded, kept as a copy)

Generates referential + file records with generate_identities (realistic French identities, with
duplicates typed with errors), loads the referential with its blocking keys as
identity_match_bench does, adds to the file exact copies of some referential records (known
patients, attached), then runs the real command in its own process and reports its wall time,
rows/s, peak memory (max RSS of that process) and the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from generate_identities import generate, write_csv
from identity_match_bench import load

from referentials.core.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
FINESS = "690999016"


def _people(args: argparse.Namespace) -> tuple[list, list]:  # type: ignore[type-arg]
    total = args.referential + args.rows
    people = generate(int(total / 1.35) + 1, args.seed)
    referential, rest = people[: args.referential], people[args.referential :]
    rng = random.Random(args.seed)
    known = int(args.rows * args.known_share)
    establishment = rest[: args.rows - known] + rng.sample(referential, known)
    rng.shuffle(establishment)
    return referential, establishment


def _database(args: argparse.Namespace, referential: list) -> tuple[str, str]:  # type: ignore[type-arg]
    if args.database_url.startswith("postgresql"):
        schema = f"bench_bulk_{uuid.uuid4().hex[:8]}"
        with make_engine(args.database_url).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        load(args.database_url, schema, referential)
        return args.database_url, schema
    path = Path(args.sqlite_path)
    pristine = path.with_suffix(".pristine.db")
    if not (args.reuse and pristine.exists()):
        pristine.unlink(missing_ok=True)
        load(f"sqlite:///{pristine}", "", referential)
    shutil.copyfile(pristine, path)
    return f"sqlite:///{path}", ""


def _import(url: str, schema: str, csv_path: Path) -> tuple[float, int, str]:
    env = {**os.environ, "SOCLE_DATABASE_URL": url, "SOCLE_DATABASE_SCHEMA": schema}
    command = [sys.executable, "-m", "referentials.cli", "import", "identities", str(csv_path)]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "--finess", FINESS], capture_output=True, text=True, env=env, cwd=ROOT
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kb // 1024, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referential", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--known-share", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="sqlite")
    parser.add_argument("--sqlite-path", default="/tmp/socle-bulk-bench.db")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    referential, establishment = _people(args)
    csv_path = Path(args.sqlite_path).with_suffix(".csv")
    write_csv(establishment, csv_path)
    t0 = time.perf_counter()
    url, schema = _database(args, referential)
    load_s = time.perf_counter() - t0
    before = os.getloadavg()
    seconds, peak_mb, summary = _import(url, schema, csv_path)
    after = os.getloadavg()
    if schema:
        with make_engine(args.database_url).begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    result = {
        "database": "postgresql" if schema else "sqlite",
        "referential": len(referential),
        "rows": len(establishment),
        "referential_load_seconds": round(load_s, 1),
        "import_seconds": round(seconds, 1),
        "rows_per_second": round(len(establishment) / seconds),
        "peak_rss_mb": peak_mb,
        "summary": summary,
        "load_average_before": [round(x, 1) for x in before],
        "load_average_after": [round(x, 1) for x in after],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
