"""Latency of the real-time duplicate check (POST /api/v1/identities/match) at scale.

    .venv/bin/python tests/benchmarks/identity_match_bench.py --identities 1000000
    .venv/bin/python tests/benchmarks/identity_match_bench.py --identities 1000000 \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    (--reuse queries what a previous run loaded: the SQLite file, or with PostgreSQL the
    schema named by --schema, which is then kept)

Before timing, both tables are read once (a running service's referential is in memory)
and 20 warm-up requests are sent.

Loads N generated French identities (with their blocking keys) into a fresh database, serves the
real application with uvicorn, then times Q match requests over HTTP (front-desk searches for
existing persons, typed with the generator's realistic errors). Prints p50/p95/p99/max in ms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from sqlalchemy import Engine, insert, text

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from generate_identities import Person, generate

from identity.duplicates import matcher
from identity.errors import TraitError
from identity.referential import rules
from identity.referential.models import Identity, MatchKey
from referentials.app import create_app
from referentials.core.auth import SCOPES, create_api_key
from referentials.core.db import make_engine, make_session_factory, session_scope
from referentials.core.settings import Settings
from referentials.migrations import upgrade
from tests.conftest import ThreadedServer, free_port

CHUNK = 20_000


def _row(p: Person) -> dict[str, object] | None:
    try:
        first = rules.normalize_first_names(list(p.first_names))
        return {
            "birth_name": rules.normalize_trait(p.birth_name, "b", birth_name=True),
            "first_names": " ".join(first),
            "first_name": first[0],
            "sex": p.sex or "F",
            "birth_date": date.fromisoformat(p.birth_date),
            "birth_date_estimated": False,
            "birth_place_code": p.birth_place_code or None,
            "used_name": p.used_name or None,
            "used_first_name": None,
            "status": "PROV",
            "attributes": "",
            "active": True,
            "version": 1,
        }
    except (TraitError, ValueError):
        return None


def _rows_with_keys(people: list[Person]) -> tuple[list[dict[str, object]], list[tuple[int, str]]]:
    """Identity rows (ids 1..n) and their blocking keys, computed as the service computes them."""
    rows: list[dict[str, object]] = []
    keys: list[tuple[int, str]] = []
    for p in people:
        row = _row(p)
        if row is None:
            continue
        row["id"] = len(rows) + 1
        rows.append(row)
        stored = Identity(**row)
        keys.extend((int(row["id"]), k) for k in matcher.keys_of(matcher.to_record(stored)))  # type: ignore[arg-type]
    return rows, keys


COLUMNS = [
    "id", "birth_name", "first_names", "first_name", "sex", "birth_date", "birth_date_estimated",
    "birth_place_code", "used_name", "used_first_name", "status", "attributes", "active", "version",
]  # fmt: skip


def _copy_postgres(
    engine: Engine, rows: list[dict[str, object]], keys: list[tuple[int, str]]
) -> None:
    now = datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cols = ", ".join([*COLUMNS, "created_at", "updated_at"])
        with cur.copy(f"COPY identities ({cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row([row[c] for c in COLUMNS] + [now, now])
        with cur.copy("COPY identity_match_keys (identity_id, key) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for key in keys:
                copy.write_row(key)
        cur.execute("SELECT setval(pg_get_serial_sequence('identities', 'id'), %s)", (len(rows),))
        raw.commit()
    finally:
        raw.close()


def load(engine_url: str, schema: str, people: list[Person]) -> int:
    engine = make_engine(engine_url, schema=schema)
    upgrade(engine)
    rows, keys = _rows_with_keys(people)
    if engine.dialect.name == "postgresql":
        _copy_postgres(engine, rows, keys)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    else:
        now = datetime.now(UTC)
        with engine.begin() as conn:
            for start in range(0, len(rows), CHUNK):
                chunk = [
                    {**r, "created_at": now, "updated_at": now} for r in rows[start : start + CHUNK]
                ]
                conn.execute(insert(Identity), chunk)
            for start in range(0, len(keys), CHUNK * 10):
                conn.execute(
                    insert(MatchKey),
                    [{"identity_id": i, "key": k} for i, k in keys[start : start + CHUNK * 10]],
                )
    engine.dispose()
    return len(rows)


def warm_up(url: str, schema: str) -> None:
    """Read both tables once, as a running service's database is: in memory, not on disk."""
    engine = make_engine(url, schema=schema)
    with engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM identities WHERE birth_name <> ''"))
        conn.execute(text("SELECT count(*) FROM identity_match_keys WHERE key <> ''"))
    engine.dispose()


def query_of(p: Person) -> dict[str, object]:
    return {
        "birth_name": p.birth_name,
        "first_names": list(p.first_names),
        "sex": p.sex or None,
        "birth_date": p.birth_date,
        "birth_place_code": p.birth_place_code or None,
    }


def run(args: argparse.Namespace) -> dict[str, object]:
    people = generate(int(args.identities / 1.35), args.seed)[: args.identities]
    schema = ""
    url = args.database_url
    if url.startswith("postgresql"):
        schema = args.schema or f"bench_{uuid.uuid4().hex[:8]}"
        if not args.reuse:
            with make_engine(url).begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    else:
        url = f"sqlite:///{args.sqlite_path}"
        if not args.reuse:
            Path(args.sqlite_path).unlink(missing_ok=True)
    t0 = time.perf_counter()
    loaded = len(people) if args.reuse else load(url, schema, people)
    load_s = time.perf_counter() - t0
    warm_up(url, schema)
    port = free_port()
    settings = Settings(
        database_url=url, database_schema=schema, load_demo_data=False, host="127.0.0.1", port=port
    )
    with session_scope(make_session_factory(make_engine(url, schema=schema))) as s:
        _, key = create_api_key(s, client_name="bench", scopes=list(SCOPES))
    rng = random.Random(args.seed)
    sample = rng.sample(people, args.queries)
    latencies = []
    candidates = []
    with (
        ThreadedServer(create_app(settings), port=port) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as client,
    ):
        for p in sample[:20]:  # warm-up: caches, connection pool, model
            client.post("/api/v1/identities/match", json=query_of(p))
        for p in sample:
            start = time.perf_counter()
            response = client.post("/api/v1/identities/match", json=query_of(p))
            latencies.append((time.perf_counter() - start) * 1000)
            if response.status_code == 200:
                candidates.append(len(response.json()))
    if schema and not args.schema:
        with make_engine(args.database_url).begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    q = statistics.quantiles(latencies, n=100)
    return {
        "database": "postgresql" if schema else "sqlite",
        "identities": loaded,
        "load_seconds": round(load_s, 1),
        "queries": len(latencies),
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(max(latencies), 1),
        "mean_candidates_returned": round(statistics.mean(candidates), 2) if candidates else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--identities", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="sqlite")
    parser.add_argument("--sqlite-path", default="/tmp/socle-match-bench.db")
    parser.add_argument(
        "--reuse", action="store_true", help="query the database a previous run loaded"
    )
    parser.add_argument(
        "--schema", default="", help="PostgreSQL: a named schema, kept after the run (for --reuse)"
    )
    args = parser.parse_args()
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
