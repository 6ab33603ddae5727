"""Per-client API usage by day and area, for the e-parcours usage indicators."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import date

from sqlalchemy import Date, Engine, Integer, String, UniqueConstraint, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from referentials.core.db import Base, utcnow
from referentials.core.principal import Principal

log = logging.getLogger("socle.usage")


class ApiUsage(Base):
    """How many calls one key made to one area (identity, directory, ror...) on one day."""

    __tablename__ = "api_usage"
    __table_args__ = (UniqueConstraint("day", "key_id", "area", name="uq_api_usage_day_key_area"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    key_id: Mapped[int] = mapped_column(Integer)
    finess: Mapped[str | None] = mapped_column(String(9), index=True)
    area: Mapped[str] = mapped_column(String(20))
    calls: Mapped[int] = mapped_column(Integer, default=0)


# How often each process writes its counts; a crash loses at most this much of them.
FLUSH_SECONDS = 2.0
_Key = tuple[date, int, str | None, str]


class _Buffer:
    """One process's counts for one database, written by a daemon thread every few seconds.

    Counting in memory keeps reads free of writes: no hot row locked per key, and on SQLite no
    write lock taken by every read. Each flush is one transaction of upserts that add the counts.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.counts: Counter[_Key] = Counter()
        self.lock = threading.Lock()
        # One flush at a time: a flush that returns has written every count taken before it,
        # including those a concurrent flush (the periodic thread's) had already taken.
        self.writing = threading.Lock()
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="usage-flush", daemon=True)
        self.thread.start()

    def add(self, key: _Key) -> None:
        with self.lock:
            self.counts[key] += 1

    def _run(self) -> None:
        while True:
            self.wake.wait(FLUSH_SECONDS)
            self.wake.clear()
            try:
                self.flush()
            except Exception:  # the database may be away for a while: keep counting
                log.warning("usage counts not written yet; retrying", exc_info=True)

    def flush(self) -> None:
        with self.writing:
            with self.lock:
                pending, self.counts = self.counts, Counter()
            if not pending:
                return
            try:
                _write(self.engine, pending)
            except Exception:
                with self.lock:
                    self.counts.update(pending)
                raise


def _write(engine: Engine, pending: Counter[_Key]) -> None:
    rows = [
        {"day": day, "key_id": key_id, "finess": finess, "area": area, "calls": calls}
        for (day, key_id, finess, area), calls in sorted(pending.items(), key=str)
    ]
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(ApiUsage)
    upsert = stmt.on_conflict_do_update(
        index_elements=["day", "key_id", "area"],
        set_={"calls": ApiUsage.calls + stmt.excluded.calls},
    )
    with engine.begin() as conn:
        conn.execute(upsert, rows)


_buffers: dict[int, _Buffer] = {}
_registry_lock = threading.Lock()


def _buffer(engine: Engine) -> _Buffer:
    with _registry_lock:
        found = _buffers.get(id(engine))
        if found is None or found.engine is not engine:
            found = _buffers[id(engine)] = _Buffer(engine)
        return found


def record_call(session: Session, principal: Principal, area: str) -> None:
    """Count one call, in memory: written within ``FLUSH_SECONDS`` by this process."""
    if principal.key_id is None:
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    _buffer(engine).add((utcnow().date(), principal.key_id, principal.finess, area))


def flush_all() -> None:
    """Write every pending count now (at shutdown, and before the indicators are computed)."""
    with _registry_lock:
        buffers = list(_buffers.values())
    for buffer in buffers:
        buffer.flush()


def finess_active(session: Session, start: date, end: date, area: str = "identity") -> set[str]:
    """FINESS numbers of the clients whose keys called ``area`` between start and end."""
    # This process's own recent calls count too (other processes flush within seconds).
    flush_all()
    stmt = (
        select(ApiUsage.finess)
        .where(
            ApiUsage.day >= start,
            ApiUsage.day <= end,
            ApiUsage.area == area,
            ApiUsage.finess.is_not(None),
        )
        .distinct()
    )
    return {f for f in session.scalars(stmt) if f}


def last_used(session: Session) -> dict[int, date]:
    """The last day each key was used (written every few seconds: see FLUSH_SECONDS)."""
    rows = session.execute(
        select(ApiUsage.key_id, func.max(ApiUsage.day)).group_by(ApiUsage.key_id)
    )
    return {key_id: day for key_id, day in rows}
