"""Throughput of `socle import identities` on an establishment file, into a large referential.

    # once, niced, outside any benchmark lock: generate the file, load the referential
    nice -n 15 .venv/bin/python tests/benchmarks/bulk_import_bench.py --stage prepare \\
        --referential 1000000 --rows 100000 [--database-url postgresql+psycopg://.../bench_x]
    # the measure: a fresh copy of the loaded referential, then the real command
    .venv/bin/python tests/benchmarks/bulk_import_bench.py --stage run \\
        --referential 1000000 --rows 100000 [--database-url ...]
    (--stage all, the default, does both; --scan times `socle identities scan` on the
    referential instead of the import)

Generates referential + file records with generate_identities (realistic French identities, with
duplicates typed with errors), loads the referential with its blocking keys as
identity_match_bench does, adds to the file exact copies of some referential records (known
patients, attached). SQLite keeps the loaded referential as a pristine file copied before each
run; PostgreSQL keeps it as a database (named after the URL's, with the referential size) that
each run clones with CREATE DATABASE ... TEMPLATE. The run starts the real command in its own
process and reports its wall time, rows/s, CPU time and peak memory (rusage of that process,
the helper process the import forks included; PostgreSQL's server work is not counted) and the
machine's load average. Keep --work-dir and --sqlite-path the same between prepare and run.
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
from pathlib import Path

from sqlalchemy import Engine, make_url, text

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


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """The establishment file and the pristine SQLite referential of these sizes."""
    base = Path(args.work_dir)
    base.mkdir(parents=True, exist_ok=True)
    tag = f"{args.referential}-{args.rows}-{args.seed}"
    return base / f"file-{tag}.csv", base / f"referential-{tag}.db"


def _autocommit(url: str, database: str | None = None) -> Engine:
    """An autocommit engine (CREATE/DROP DATABASE and VACUUM run outside a transaction) on
    ``url``, or on another ``database`` of its server."""
    target = make_url(url) if database is None else make_url(url).set(database=database)
    engine = make_engine(target.render_as_string(hide_password=False))
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def _names(args: argparse.Namespace) -> tuple[str, str]:
    name = make_url(args.database_url).database
    return f"{name}_ref{args.referential}_{args.seed}", f"{name}_run"


def _recreate(args: argparse.Namespace, target: str, template: str | None) -> str:
    # The server's maintenance database: a database cannot be dropped or copied from within.
    admin = _autocommit(args.database_url, "postgres")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target}"'))
        suffix = f' TEMPLATE "{template}"' if template else ""
        conn.execute(text(f'CREATE DATABASE "{target}"{suffix}'))
    admin.dispose()
    return make_url(args.database_url).set(database=target).render_as_string(hide_password=False)


def prepare(args: argparse.Namespace) -> float:
    csv_path, pristine = _paths(args)
    referential, establishment = _people(args)
    write_csv(establishment, csv_path)
    t0 = time.perf_counter()
    if args.database_url.startswith("postgresql"):
        url = _recreate(args, _names(args)[0], None)
        load(url, "", referential)
        _vacuum(url)
    else:
        pristine.unlink(missing_ok=True)
        load(f"sqlite:///{pristine}", "", referential)
    return time.perf_counter() - t0


def _vacuum(url: str) -> None:
    """VACUUM ANALYZE the loaded referential, as autovacuum does on a server with it on (the
    default): a referential in use has its statistics and visibility map, which decide the
    plans of the load's queries (a server with autovacuum off would never have them)."""
    engine = _autocommit(url)
    with engine.connect() as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
    engine.dispose()


def _fresh_copy(args: argparse.Namespace) -> str:
    if args.database_url.startswith("postgresql"):
        pristine, run = _names(args)
        return _recreate(args, run, pristine)
    _, pristine = _paths(args)
    path = Path(args.sqlite_path)
    shutil.copyfile(pristine, path)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def _command(args: argparse.Namespace, csv_path: Path) -> list[str]:
    if args.scan:
        return [sys.executable, "-m", "referentials.cli", "identities", "scan"]
    return [
        *(sys.executable, "-m", "referentials.cli", "import", "identities", str(csv_path)),
        *("--finess", FINESS),
    ]


def run(args: argparse.Namespace) -> dict[str, object]:
    csv_path, _ = _paths(args)
    url = _fresh_copy(args)
    env = {**os.environ, "SOCLE_DATABASE_URL": url}
    before = os.getloadavg()
    start = time.perf_counter()
    done = subprocess.run(
        _command(args, csv_path), capture_output=True, text=True, env=env, cwd=ROOT
    )
    seconds = time.perf_counter() - start
    after = os.getloadavg()
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows = args.referential if args.scan else args.rows
    return {
        "database": "postgresql" if url.startswith("postgresql") else "sqlite",
        "command": "identities scan" if args.scan else "import identities",
        "referential": args.referential,
        "rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": usage.ru_maxrss // 1024,
        "summary": done.stdout.strip().splitlines()[-1],
        "load_average_before": [round(x, 1) for x in before],
        "load_average_after": [round(x, 1) for x in after],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("prepare", "run", "all"), default="all")
    parser.add_argument("--referential", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--known-share", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="sqlite")
    parser.add_argument("--sqlite-path", default="/tmp/socle-bulk-bench.db")
    parser.add_argument("--work-dir", default="/tmp/socle-bulk-bench")
    parser.add_argument("--scan", action="store_true", help="time `socle identities scan`")
    args = parser.parse_args()
    if args.stage in ("prepare", "all"):
        seconds = prepare(args)
        print(json.dumps({"referential_load_seconds": round(seconds, 1)}))
    if args.stage in ("run", "all"):
        print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
