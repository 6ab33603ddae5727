"""SQLite: the WAL a chunk's commit wrote, copied into the database file by a thread meanwhile.

Past 1,000 pages, each commit runs SQLite's automatic checkpoint in the committing thread: it
copies the chunk's pages from the WAL into the database file (reads, writes, a sync), 3 s of a
1M load's main thread. With it off for the load's connection, a thread runs the same PASSIVE
checkpoint on a connection of its own right after each commit, while the next chunk is planned
and checked; the load waits for it before its next write. The writer then finds the WAL fully
copied and starts it again from its beginning, as after an automatic checkpoint (else the WAL
would grow by every chunk, and every read would search it).

The load's chunks share one connection, set for the load for its length and set back after
(``load_sessions``): on SQLite the checkpoints above and a large page cache, on PostgreSQL no
parallel plans, and a second connection set likewise that reads half of each chunk's blocks.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.db import sqlite_file


class Checkpoints:
    """The load's checkpoints, one at a time in a thread (``path``: the SQLite file; None:
    another database, nothing to do)."""

    def __init__(self, path: str | None) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="wal-checkpoint") if path else None
        self._pending: Future[None] | None = None

    def start(self) -> None:
        """Copy what the commit just made into the database file (call after each commit)."""
        if self._thread is not None:
            self._pending = self._thread.submit(self._checkpoint)

    def wait(self) -> None:
        """Wait for the copy under way, if any (call before the next write)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _checkpoint(self) -> None:
        assert self._path is not None
        connection = sqlite3.connect(self._path)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._thread is not None:
                self._thread.shutdown()


@contextmanager
def load_sessions(
    factory: sessionmaker[Session],
) -> Iterator[tuple[sessionmaker[Session], Checkpoints, Connection | None]]:
    """Sessions for the load's chunks, its checkpoints, and on PostgreSQL a second connection
    that reads half of each chunk's key blocks meanwhile (repository.key_blocks).

    On a SQLite file or PostgreSQL: every chunk's session on one connection set for the load
    (LOAD_PRAGMAS, PG_LOAD_SETTINGS) for its length, and set back after, so the pool gets it
    back as it was; the second connection likewise. Elsewhere (SQLite in memory): ``factory``
    itself. Checkpoints do nothing but on a SQLite file. No second connection on SQLite: its
    reads hold the interpreter's lock for most of their time (two threads read no faster).
    """
    engine = factory.kw["bind"]
    path = sqlite_file(engine.url)
    postgresql = engine.dialect.name == "postgresql"
    if path is None and not postgresql:
        yield factory, Checkpoints(None), None
        return
    with ExitStack() as stack:
        connection = stack.enter_context(engine.connect())
        beside = stack.enter_context(engine.connect()) if postgresql else None
        before: dict[str, object]
        if postgresql:
            statement, settings = "SET {} TO {}", PG_LOAD_SETTINGS
            before = dict.fromkeys(settings, "DEFAULT")
        else:
            statement, settings = "PRAGMA {}={}", LOAD_PRAGMAS
            before = {name: _pragma(connection, name) for name in settings}
        held = [c for c in (connection, beside) if c is not None]
        for one in held:
            _run(one, statement, settings)
        checkpoints = Checkpoints(path)
        try:
            yield sessionmaker(**{**factory.kw, "bind": connection}), checkpoints, beside
        finally:
            checkpoints.close()
            for one in held:
                one.rollback()  # what a failed chunk left open, if anything
                _run(one, statement, before)


# The load's connection: no automatic checkpoint (above), and a large page cache, in KiB:
# inserts land all over the indexes of a large referential (blocking keys above all), and with
# a small cache each one reads its pages from the file again.
LOAD_PRAGMAS = {"wal_autocheckpoint": 0, "cache_size": -256 * 1024}
# No parallel plans: on an analysed referential the planner reads a chunk's candidates (tens
# of thousands of ids) with a parallel scan of the whole table, which took twice as long as the
# primary key's index (EXPLAIN ANALYZE of 70,000 ids at 1M: 222-241 ms against 107-147 ms), and
# its workers take the cores the load's own processes need.
PG_LOAD_SETTINGS = {"max_parallel_workers_per_gather": 0}


def _run(connection: Connection, statement: str, settings: Mapping[str, object]) -> None:
    for name, value in settings.items():
        connection.exec_driver_sql(statement.format(name, value))
    connection.commit()


def _pragma(connection: Connection, name: str) -> int:
    return int(connection.exec_driver_sql(f"PRAGMA {name}").scalar_one())
