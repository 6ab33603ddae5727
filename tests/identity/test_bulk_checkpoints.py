"""The bulk load's connection (checkpoints.py): set for the load on either database and given
back as it was; on SQLite its WAL checkpointed in a thread (as small as with SQLite's automatic
checkpoint) and its ids reserved under the write lock."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from identity.imports import bulk, checkpoints
from identity.imports import repository as reads
from identity.referential import service
from identity.referential.models import Identity
from identity.referential.schemas import IdentityCreate
from referentials.core.auth import SYSTEM
from referentials.core.db import make_engine, make_session_factory, session_scope
from referentials.migrations import upgrade
from tests.factories import identity_body
from tests.identity.test_bulk_import import LOADED, STORED, _files


def _wal_sizes(tmp_path: Path, background: bool, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The WAL file's size before a load of many chunks into a new SQLite file, then after
    each chunk (``background``: False, the checkpoint thread is never started)."""
    path = tmp_path / f"wal-{background}.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    factory = make_session_factory(engine)
    stored, loaded = _files(tmp_path)
    bulk.import_file(factory, SYSTEM, stored, finess=STORED)
    wal = Path(f"{path}-wal")
    sizes = [wal.stat().st_size]
    if not background:
        monkeypatch.setattr(checkpoints.Checkpoints, "start", lambda self: None)
    bulk.import_file(
        factory,
        SYSTEM,
        loaded,
        finess=LOADED,
        chunk_size=12,
        progress=lambda _: sizes.append(wal.stat().st_size),
    )
    engine.dispose()
    return sizes


def test_the_wal_starts_again_after_each_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = _wal_sizes(tmp_path, True, monkeypatch)
    assert len(sizes) > 15
    # The frames of each chunk overwrite the last one's: the file never grows past its
    # largest chunk (or what it held before the load).
    assert sizes[-1] == max(sizes[:4])
    # Without the thread's checkpoints the same load's WAL grows with every chunk.
    unchecked = _wal_sizes(tmp_path, False, monkeypatch)
    assert unchecked[-1] > 2 * sizes[-1]


def test_the_checkpoints_run_in_their_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    upgrade(engine)
    _, loaded = _files(tmp_path)
    checkpointers: set[str] = set()
    start = checkpoints.Checkpoints._checkpoint

    def seen(self: checkpoints.Checkpoints) -> None:
        checkpointers.add(threading.current_thread().name.split("_")[0])
        start(self)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(checkpoints.Checkpoints, "_checkpoint", seen)
        bulk.import_file(make_session_factory(engine), SYSTEM, loaded, finess=LOADED)
    assert checkpointers == {"wal-checkpoint"}
    engine.dispose()


def _for_load(dialect: str) -> dict[str, str]:
    """What the load sets on its connection on this database."""
    settings = checkpoints.PG_LOAD_SETTINGS if dialect == "postgresql" else checkpoints.LOAD_PRAGMAS
    return {name: str(value) for name, value in settings.items()}


def _settings(connection: Connection) -> dict[str, str]:
    """The settings the load sets, as this connection has them now."""
    show = "SHOW {}" if connection.dialect.name == "postgresql" else "PRAGMA {}"
    return {
        name: str(connection.exec_driver_sql(show.format(name)).scalar_one())
        for name in _for_load(connection.dialect.name)
    }


def test_the_load_runs_on_one_connection_set_for_it(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Either database: every chunk sees the load's settings, and so does the second
    connection that reads half of its blocks on PostgreSQL; then every pooled connection
    has a fresh connection's again (on PostgreSQL: no parallel plans for the load)."""
    engine = session_factory.kw["bind"]
    wanted = _for_load(engine.dialect.name)
    with engine.connect() as fresh:  # as every connection of the engine starts
        defaults = _settings(fresh)
    assert all(defaults[name] != value for name, value in wanted.items())
    seen: list[tuple[int, dict[str, str]]] = []
    beside: list[tuple[int, dict[str, str]]] = []  # PostgreSQL's second connection
    plan, blocks = bulk.plan_chunk, reads.key_blocks

    def planned(session: Session, *args: object) -> object:
        connection = session.connection()
        seen.append((id(connection.connection.dbapi_connection), _settings(connection)))
        return plan(session, *args)  # type: ignore[arg-type]

    def read(session: Session, keys: list[str], limit: int, other: Connection | None) -> object:
        if other is not None:
            with other.begin():
                beside.append((id(other.connection.dbapi_connection), _settings(other)))
        return blocks(session, keys, limit, other)

    _, loaded = _files(tmp_path)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(bulk, "plan_chunk", planned)
        m.setattr(reads, "key_blocks", read)
        bulk.import_file(session_factory, SYSTEM, loaded, finess=LOADED, chunk_size=20)
    assert len(seen) > 3
    assert len({connection for connection, _ in seen}) == 1
    assert all(settings == wanted for _, settings in seen)
    if engine.dialect.name == "postgresql":
        assert len(beside) == len(seen)
        assert len({connection for connection, _ in beside}) == 1
        assert beside[0][0] != seen[0][0]
        assert all(settings == wanted for _, settings in beside)
    else:
        assert beside == []
    # Every connection the pool holds, the load's among them, at once.
    held = [engine.connect() for _ in range(engine.pool.checkedin())]
    try:
        assert held
        assert all(_settings(connection) == defaults for connection in held)
    finally:
        for connection in held:
            connection.close()


def test_sqlite_ids_are_reserved_under_the_write_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An identity created by another writer while a chunk is written (the API beside the load)
    never takes an id the chunk reserved: SQLite hands out max(id) + 1, so the chunk reads it
    holding the write lock, and the other writer waits for its commit."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ids.db'}")
    upgrade(engine)
    factory = make_session_factory(engine)
    _, loaded = _files(tmp_path)
    created: list[int] = []
    first: list[int] = []  # the first chunk's ids
    others: list[threading.Thread] = []

    def create_one() -> None:
        data = IdentityCreate.model_validate(identity_body(birth_name="Ondine"))
        with session_scope(factory) as session:
            created.append(service.create(session, SYSTEM, data=data).identity.id)

    reserve = reads.reserve_ids

    def reserved(session: Session, count: int) -> list[int]:
        ids = reserve(session, count)
        if not others:  # the first chunk: another writer comes in at once
            first.extend(ids)
            others.append(threading.Thread(target=create_one))
            others[0].start()
            others[0].join(timeout=1)  # it goes first if nothing holds it back
        return ids

    monkeypatch.setattr(reads, "reserve_ids", reserved)
    summary = bulk.import_file(factory, SYSTEM, loaded, finess=LOADED, chunk_size=20)
    others[0].join()
    with session_scope(factory) as session:
        ids = session.scalars(select(Identity.id).order_by(Identity.id)).all()
    assert len(created) == 1 and created[0] in ids
    assert len(ids) == summary.created + 1
    # The other writer waited for the first chunk's commit: its id follows that chunk's.
    assert first and created[0] == max(first) + 1
    engine.dispose()
