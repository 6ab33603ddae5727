"""Time a national-size ROR import and the all-regions completeness.

    .venv/bin/python -m tests.benchmarks.ror_generate --eg 100000 --out /tmp/ror_national
    .venv/bin/python -m tests.benchmarks.ror_bench --data /tmp/ror_national \
        --database sqlite:////tmp/ror_bench.db

The FINESS import (the directory's, not timed here) loads the generated FINESS+ extract first;
then the ROR import (read, parse, upsert, resolve, snapshot) and the completeness are timed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sqlalchemy import text

from referentials.core.db import make_engine, make_session_factory, session_scope
from referentials.core.settings import DirectorySettings, RorSettings
from referentials.directory import imports
from referentials.migrations import upgrade
from ror_sync import service
from ror_sync.sync import run_sync


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("/tmp/ror_national"))
    parser.add_argument("--database", default="sqlite:////tmp/ror_bench.db")
    args = parser.parse_args()
    engine = make_engine(args.database)
    upgrade(engine)
    factory = make_session_factory(engine)
    finess = args.data / "finess" / "finess-structures-journalier-20260504.json"
    started = time.perf_counter()
    imports.run(
        engine,
        factory,
        source="finess",
        location=str(finess),
        trigger="bench",
        settings=DirectorySettings(max_removed_share=1.0),
        activities=args.data / "finess" / "finess-activites-journalier-20260504.json",
    )
    print(f"FINESS import (not the ROR's): {time.perf_counter() - started:.1f} s", flush=True)

    started, cpu = time.perf_counter(), time.process_time()
    summary = run_sync(
        factory,
        str(args.data / "ror"),
        settings=RorSettings(),
        snapshot=service.take_snapshot,
        trigger="bench",
    )
    print(
        f"ROR import (read, parse, upsert, resolve, snapshot): "
        f"{time.perf_counter() - started:.1f} s wall, {time.process_time() - cpu:.1f} s CPU",
        json.dumps(summary.counts()),
        flush=True,
    )
    for attempt in (1, 2):
        started, cpu = time.perf_counter(), time.process_time()
        with session_scope(factory) as session:
            results = service.evaluate(session, service.Scope())
        print(
            f"completeness, all regions (run {attempt}): {time.perf_counter() - started:.1f} s "
            f"wall, {time.process_time() - cpu:.1f} s CPU, {len(results)} EG x champ",
            flush=True,
        )
    with engine.connect() as conn:
        for table in ("ror_organizations", "ror_offers", "ror_locations", "ror_contacts"):
            print(table, conn.execute(text(f"SELECT count(*) FROM {table}")).scalar())


if __name__ == "__main__":
    main()
