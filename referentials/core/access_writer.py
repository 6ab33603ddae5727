"""Access records written in groups by one thread per database, acknowledged before answering.

A read must not become a write transaction of its own: on SQLite every such write takes the
database's single write lock, on PostgreSQL it costs a commit (a WAL flush) per read. Reads hand
their rows to this writer and wait for the group commit that holds them, so a read is answered
only once its access is stored (nothing acknowledged is lost) while one transaction stores the
rows of every read that arrived meanwhile.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Table, insert

log = logging.getLogger("socle.audit")
# How long a read waits for its access to be stored before it fails (503, nothing answered).
WAIT_SECONDS = 30.0


@dataclass
class _Batch:
    rows: list[dict[str, Any]]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class AccessWriter:
    """Group commit of access rows into ``table`` on ``engine``."""

    def __init__(self, engine: Engine, table: Table) -> None:
        self.engine, self.table = engine, table
        self.pending: list[_Batch] = []
        self.ready = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="access-audit", daemon=True)
        self.thread.start()

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Store these rows; returns once they are committed, raises when they could not be."""
        batch = _Batch(rows)
        with self.ready:
            self.pending.append(batch)
            self.ready.notify()
        if not batch.done.wait(WAIT_SECONDS):
            raise TimeoutError("access records not stored in time")
        if batch.error is not None:
            raise batch.error

    def _run(self) -> None:
        while True:
            with self.ready:
                while not self.pending:
                    self.ready.wait()
                batches, self.pending = self.pending, []
            self._commit(batches)

    def _commit(self, batches: list[_Batch]) -> None:
        error: BaseException | None = None
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(self.table), [row for b in batches for row in b.rows])
        except Exception as exc:  # every waiting read fails with it: none was acknowledged
            log.warning("access records not stored: %s", type(exc).__name__)
            error = exc
        for batch in batches:
            batch.error = error
            batch.done.set()


_writers: dict[int, AccessWriter] = {}
_lock = threading.Lock()


def writer_for(engine: Engine, table: Table) -> AccessWriter:
    """This process's writer for one database (started on first use)."""
    with _lock:
        found = _writers.get(id(engine))
        if found is None or found.engine is not engine:
            found = _writers[id(engine)] = AccessWriter(engine, table)
        return found
