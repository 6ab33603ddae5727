"""SQLite: the WAL a chunk's commit wrote, copied into the database file by a thread meanwhile.

Past 1,000 pages, each commit runs SQLite's automatic checkpoint in the committing thread: it
copies the chunk's pages from the WAL into the database file (reads, writes, a sync), 3 s of a
1M load's main thread. With it off for the load's connection, a thread runs the same PASSIVE
checkpoint on a connection of its own right after each commit, while the next chunk is planned
and checked; the load waits for it before its next write. The writer then finds the WAL fully
copied and starts it again from its beginning, as after an automatic checkpoint (else the WAL
would grow by every chunk, and every read would search it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

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
) -> Iterator[tuple[sessionmaker[Session], Checkpoints]]:
    """Sessions for the load's chunks, and its checkpoints.

    On a SQLite file: every chunk's session on one connection set for the load (LOAD_PRAGMAS)
    for its length, and set back after, so the pool gets it back as it was. Elsewhere:
    ``factory`` itself, and checkpoints that do nothing.
    """
    engine = factory.kw["bind"]
    path = sqlite_file(engine.url)
    if path is None:
        yield factory, Checkpoints(None)
        return
    with engine.connect() as connection:
        before = {name: _pragma(connection, name) for name in LOAD_PRAGMAS}
        for name, value in LOAD_PRAGMAS.items():
            connection.exec_driver_sql(f"PRAGMA {name}={value}")
        connection.commit()
        checkpoints = Checkpoints(path)
        try:
            yield sessionmaker(**{**factory.kw, "bind": connection}), checkpoints
        finally:
            checkpoints.close()
            for name, value in before.items():
                connection.exec_driver_sql(f"PRAGMA {name}={value}")
            connection.commit()


# The load's connection: no automatic checkpoint (above), and a large page cache, in KiB:
# inserts land all over the indexes of a large referential (blocking keys above all), and with
# a small cache each one reads its pages from the file again.
LOAD_PRAGMAS = {"wal_autocheckpoint": 0, "cache_size": -256 * 1024}


def _pragma(connection: Connection, name: str) -> int:
    return int(connection.exec_driver_sql(f"PRAGMA {name}").scalar_one())
