"""The first load into an empty directory: rows written directly, history kept run-level."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from referentials.core import runs
from referentials.core.audit import AuditEntry, record
from referentials.core.db import make_engine, session_scope
from referentials.core.principal import SYSTEM
from referentials.core.settings import Settings
from referentials.directory import companions
from referentials.directory import service as directory_service
from referentials.directory.models import WHOLE_SET, Activity, DirectoryChange
from referentials.directory.parsers.common import ParseReport
from referentials.directory.parsers.rpps import ACTIVITY_FIELDS, parse_personne_activite
from tests.referentials.directory.conftest import (
    RPPS,
    Importer,
    many_professionals,
    rpps_lines,
    write_rpps,
)
from tests.referentials.directory.test_rpps_import import next_day


def test_first_load_records_the_whole_set_once_and_later_runs_per_entity(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    first = run_import("rpps", RPPS)["run_id"]
    with session_factory() as session:
        rows = session.scalars(select(DirectoryChange)).all()
        assert [(c.entity_key, c.change, c.run_id) for c in rows] == [(WHOLE_SET, "added", first)]
        loaded = directory_service.get_professional(session, "819990000028")
        assert [(h.change, h.run_id) for h in loaded.history] == [("added", first)]
    second = run_import("rpps", write_rpps(tmp_path, next_day(rpps_lines())))["run_id"]
    with session_factory() as session:
        # Added by the diff: its own row only, not the first load's.
        new = directory_service.get_professional(session, "819990000101")
        assert [(h.change, h.run_id) for h in new.history] == [("added", second)]
        changed = directory_service.get_professional(session, "819990000010")
        assert [(h.change, h.run_id, h.fields) for h in changed.history] == [
            ("added", first, []),
            ("updated", second, ["activities"]),
        ]


def test_first_load_stores_every_activity_cell(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path = many_professionals(tmp_path, 101)
    with path.open("rb") as stream:
        expected = sorted(
            tuple(cell or None for cell in child)
            for entity in parse_personne_activite(stream, name=path.name, report=ParseReport())
            for child in entity.materialise().children
        )
    assert run_import("rpps", path)["added"] == 101
    columns = [getattr(Activity, name) for name in ("idnps", *ACTIVITY_FIELDS)]
    with session_factory() as session:
        stored = sorted(tuple(row) for row in session.execute(select(*columns)))
    assert stored == expected


def test_a_first_load_meets_writes_of_another_process(
    run_import: Importer,
    session_factory: sessionmaker[Session],
    db_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The service writes while the regional team's first load runs: neither fails.

    Another engine (another `socle serve` worker) commits a write just after the load has
    staged the companion files, before it drops the indexes. On SQLite the load must already
    hold the write lock: a transaction opened earlier without it could not take it any more.
    """
    other = make_engine(db_settings.database_url, schema=db_settings.database_schema)
    errors: list[BaseException] = []
    waiting: list[threading.Thread] = []
    stage = companions.Companions.stage

    def write() -> None:
        try:
            with session_scope(sessionmaker(other)) as session:
                record(session, SYSTEM, entity_type="test", entity_id=1, action="beside_load")
        except BaseException as error:
            errors.append(error)

    def stage_then_let_another_write(self: companions.Companions, conn: Connection) -> None:
        stage(self, conn)
        writer = threading.Thread(target=write)
        writer.start()
        # Time for the write to commit, if nothing makes it wait for the load.
        writer.join(timeout=1)
        waiting.append(writer)

    monkeypatch.setattr(companions.Companions, "stage", stage_then_let_another_write)
    try:
        assert run_import("rpps", RPPS)["added"] > 0
        for writer in waiting:
            writer.join(timeout=30)
    finally:
        other.dispose()
    assert len(waiting) == 1 and not errors
    with session_factory() as session:
        assert session.scalars(select(AuditEntry.action)).all().count("beside_load") == 1
        assert directory_service.get_professional(session, "819990000028").history


def test_a_first_load_keeps_its_run_lock_alive(
    run_import: Importer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long load refreshes its run lock as it goes (here at every progress report). On
    SQLite, where the first load holds the database's write lock meanwhile, the refresh is
    written in the load's own transaction: on a connection of its own it would wait for that
    lock, held by its own thread."""
    refreshed: list[bool] = []
    refresh = runs.refresh_lock

    def counted(*args: Any, **kwargs: Any) -> bool:
        kept = refresh(*args, **kwargs)
        writing = runs._WRITING.get()
        if writing is not None:  # SQLite: the load's transaction goes on, uncommitted
            assert writing.connection.driver_connection.in_transaction  # type: ignore[union-attr]
        refreshed.append(kept)
        return kept

    monkeypatch.setattr(runs, "refresh_lock", counted)
    outcome: list[Any] = []

    def load() -> None:
        try:
            outcome.append(run_import("rpps", RPPS, lock_ttl_seconds=0))
        except BaseException as error:
            outcome.append(error)

    loading = threading.Thread(target=load, daemon=True)
    loading.start()
    loading.join(timeout=60)
    assert outcome, "the load is stuck"
    assert isinstance(outcome[0], dict), outcome[0]
    assert outcome[0]["added"] > 0 and refreshed and all(refreshed)
