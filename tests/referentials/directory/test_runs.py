"""The run lock (one import per source at a time, across processes) and run records."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from referentials.core import runs
from referentials.core.runs import ImportRun
from referentials.core.settings import Settings
from referentials.directory import imports
from referentials.directory.errors import ImportAlreadyRunning
from tests.referentials.directory.conftest import RPPS, Importer

TTL = timedelta(minutes=5)


def test_lock_is_exclusive_until_released(session_factory: sessionmaker[Session]) -> None:
    one, two = runs.new_owner(), runs.new_owner()
    assert runs.acquire_lock(session_factory, "import:rpps", one, ttl=TTL)
    assert not runs.acquire_lock(session_factory, "import:rpps", two, ttl=TTL)
    assert runs.acquire_lock(session_factory, "import:finess", two, ttl=TTL)  # per source
    assert runs.refresh_lock(session_factory, "import:rpps", one, ttl=TTL)
    assert not runs.refresh_lock(session_factory, "import:rpps", two, ttl=TTL)
    runs.release_lock(session_factory, "import:rpps", one)
    assert runs.acquire_lock(session_factory, "import:rpps", two, ttl=TTL)


def test_expired_lock_is_taken_over(session_factory: sessionmaker[Session]) -> None:
    assert runs.acquire_lock(
        session_factory, "import:rpps", runs.new_owner(), ttl=timedelta(seconds=-1)
    )
    assert runs.acquire_lock(session_factory, "import:rpps", runs.new_owner(), ttl=TTL)


def test_lock_of_a_dead_process_is_taken_and_its_run_marked(
    session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    # A real process that takes the lock, records a run, and dies holding it.
    code = (
        "import sys; from datetime import timedelta; from referentials.core import runs;"
        "from referentials.core.db import make_engine, make_session_factory;"
        "f = make_session_factory(make_engine(sys.argv[1], schema=sys.argv[2]));"
        "o = runs.new_owner();"
        "assert runs.acquire_lock(f, 'import:rpps', o, ttl=timedelta(hours=1));"
        "print(runs.start_run(f, source='rpps', location='x', owner=o, trigger='test'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, db_settings.database_url, db_settings.database_schema],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_run = int(done.stdout.strip())
    assert runs.acquire_lock(session_factory, "import:rpps", runs.new_owner(), ttl=TTL)
    with session_factory() as session:
        run = session.get(ImportRun, dead_run)
        assert run is not None and run.outcome == "interrupted"


def test_second_import_of_a_source_is_refused_while_one_runs(
    run_import: Importer, session_factory: sessionmaker[Session]
) -> None:
    holder = runs.new_owner()
    assert runs.acquire_lock(session_factory, imports.lock_name("rpps"), holder, ttl=TTL)
    try:
        run_import("rpps", RPPS)
        raise AssertionError("the import should have been refused")
    except ImportAlreadyRunning as exc:
        assert exc.status_code == 409
    runs.release_lock(session_factory, imports.lock_name("rpps"), holder)
    assert run_import("rpps", RPPS)["added"] == 9
