"""Import runs (what ran, on which file, with which outcome) and the database run lock.

Shared by every scheduled import (directory today, ROR later). The lock is a row per source
with an owner and an expiry, taken by one conditional UPDATE or one INSERT, so that two
processes (or two hosts) never run the same import at once, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Connection,
    CursorResult,
    Integer,
    String,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from referentials.core.db import Base, UTCDateTime, utcnow
from referentials.core.notify import outbox

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
ABORTED = "aborted"
INTERRUPTED = "interrupted"
# Warnings beyond this are counted but not stored, so a bad file cannot bloat the run table.
MAX_STORED_WARNINGS = 200


class ImportRun(Base):
    """One run of one import: source, file, checksum, times, outcome, counts, warnings."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(40), index=True)
    trigger: Mapped[str] = mapped_column(String(20), default="cli")
    location: Mapped[str] = mapped_column(String(1000))
    file_name: Mapped[str | None] = mapped_column(String(300))
    checksum: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(20), default=RUNNING, index=True)
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    warnings_count: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[list[str] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)


class RunLock(Base):
    """Who holds the run lock of a source, until when."""

    __tablename__ = "run_locks"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


def _changed(session: Session, statement: Any) -> int:
    """Rows changed by an UPDATE (its rowcount is what makes the lock atomic)."""
    return cast(CursorResult[Any], session.execute(statement)).rowcount


def new_owner() -> str:
    """A lock owner naming this host and process, so a dead local holder can be recognised."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_is_dead(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def acquire_lock(factory: sessionmaker[Session], name: str, owner: str, *, ttl: timedelta) -> bool:
    """Take the lock ``name`` for ``owner`` if free, expired or held by a dead local process."""
    now = utcnow()
    with factory() as session:
        taken = _changed(
            session,
            update(RunLock)
            .where(RunLock.name == name)
            .where((RunLock.expires_at < now) | (RunLock.owner == owner))
            .values(owner=owner, acquired_at=now, expires_at=now + ttl),
        )
        if taken:
            session.commit()
            return True
        holder = session.scalar(select(RunLock.owner).where(RunLock.name == name))
        if holder is None:
            try:
                session.execute(
                    insert(RunLock).values(
                        name=name, owner=owner, acquired_at=now, expires_at=now + ttl
                    )
                )
                session.commit()
                return True
            except IntegrityError:
                # Another process inserted it between our UPDATE and INSERT: it wins.
                session.rollback()
                return False
        if not _owner_is_dead(holder):
            return False
        taken = _take_from_dead(session, name, owner, holder, now=now, ttl=ttl)
        session.commit()
        return taken


def _take_from_dead(
    session: Session, name: str, owner: str, holder: str, *, now: datetime, ttl: timedelta
) -> bool:
    """Compare-and-swap on the dead owner (one contender wins); its runs become interrupted."""
    taken = _changed(
        session,
        update(RunLock)
        .where(RunLock.name == name, RunLock.owner == holder)
        .values(owner=owner, acquired_at=now, expires_at=now + ttl),
    )
    if taken:
        session.execute(
            update(ImportRun)
            .where(ImportRun.owner == holder, ImportRun.outcome == RUNNING)
            .values(outcome=INTERRUPTED, finished_at=now, error="the process died")
        )
    return bool(taken)


# A SQLite write transaction this thread holds for an import (a directory's first load holds
# the database's one write lock for its length): its lock is refreshed in it.
_WRITING: ContextVar[Connection | None] = ContextVar("import_write_transaction", default=None)


@contextmanager
def refreshed_in(connection: Connection) -> Iterator[None]:
    """Refresh this thread's run locks in ``connection``'s transaction meanwhile (SQLite, while
    it holds the write lock). On a connection of its own a refresh would wait for that lock,
    held by its own thread. Others see the new expiry when the transaction commits; until then
    they cannot write, so neither can they take the lock."""
    token = _WRITING.set(connection)
    try:
        yield
    finally:
        _WRITING.reset(token)


def refresh_lock(factory: sessionmaker[Session], name: str, owner: str, *, ttl: timedelta) -> bool:
    """Push the expiry of a held lock further; False when it was lost."""
    writing = _WRITING.get()
    # Bound to a connection in a transaction, a session's commit leaves that transaction be.
    with factory() if writing is None else Session(bind=writing) as session:
        kept = _changed(
            session,
            update(RunLock)
            .where(RunLock.name == name, RunLock.owner == owner)
            .values(expires_at=utcnow() + ttl),
        )
        session.commit()
        return bool(kept)


def release_lock(factory: sessionmaker[Session], name: str, owner: str) -> None:
    """Give the lock back (expire it now) if we still hold it."""
    with factory() as session:
        _changed(
            session,
            update(RunLock)
            .where(RunLock.name == name, RunLock.owner == owner)
            .values(expires_at=utcnow() - timedelta(seconds=1)),
        )
        session.commit()


def lock_holder(session: Session, name: str) -> str | None:
    """The current (unexpired) holder of ``name``, if any."""
    return session.scalar(
        select(RunLock.owner).where(RunLock.name == name, RunLock.expires_at >= utcnow())
    )


def start_run(
    factory: sessionmaker[Session], *, source: str, location: str, owner: str, trigger: str
) -> int:
    """Record a run as started (committed at once, so it is visible while it runs)."""
    with factory() as session:
        run = ImportRun(
            source=source,
            location=location[:1000],
            owner=owner,
            trigger=trigger,
            started_at=utcnow(),
            outcome=RUNNING,
        )
        session.add(run)
        session.commit()
        return run.id


def finish_run(
    session: Session | Connection,
    run_id: int,
    *,
    outcome: str,
    counts: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
    warnings_count: int | None = None,
    error: str | None = None,
    file_name: str | None = None,
    checksum: str | None = None,
) -> None:
    """Record the end of a run (in the caller's transaction, e.g. the one applying the diff)."""
    values: dict[str, Any] = {"outcome": outcome, "finished_at": utcnow(), "error": error}
    if counts is not None:
        values["counts"] = counts
    if warnings is not None:
        values["warnings"] = warnings[:MAX_STORED_WARNINGS]
        values["warnings_count"] = len(warnings) if warnings_count is None else warnings_count
    if file_name is not None:
        values["file_name"] = file_name[:300]
    if checksum is not None:
        values["checksum"] = checksum
    session.execute(update(ImportRun).where(ImportRun.id == run_id).values(**values))
    if outcome == SUCCEEDED:
        # Subscribers hear of the run in its own transaction (the change outbox).
        source = session.execute(select(ImportRun.source).where(ImportRun.id == run_id)).scalar()
        if source:
            outbox.emit_run(session, run_id=run_id, source=source, counts=counts or {})


def last_success(session: Session, source: str, *, before: int | None = None) -> ImportRun | None:
    """The latest successful run of ``source`` (before run ``before`` when given)."""
    stmt = select(ImportRun).where(ImportRun.source == source, ImportRun.outcome == SUCCEEDED)
    if before is not None:
        stmt = stmt.where(ImportRun.id < before)
    return session.scalars(stmt.order_by(ImportRun.id.desc()).limit(1)).first()


def get_run(session: Session, run_id: int) -> ImportRun | None:
    return session.get(ImportRun, run_id)


def list_runs(
    session: Session, *, source: str | None, limit: int, offset: int
) -> tuple[list[ImportRun], int]:
    """Runs, newest first, with the total for the same filter."""
    stmt = select(ImportRun)
    count = select(func.count()).select_from(ImportRun)
    if source:
        stmt = stmt.where(ImportRun.source == source)
        count = count.where(ImportRun.source == source)
    rows = session.scalars(stmt.order_by(ImportRun.id.desc()).limit(limit).offset(offset))
    return list(rows), int(session.scalar(count) or 0)


def run_counts(session: Session) -> dict[tuple[str, str], int]:
    """Runs by (source, outcome), every run ever recorded."""
    stmt = select(ImportRun.source, ImportRun.outcome, func.count()).group_by(
        ImportRun.source, ImportRun.outcome
    )
    return {(str(s), str(o)): int(n) for s, o, n in session.execute(stmt)}
