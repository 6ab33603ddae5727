"""The audit trail: who did what to which record, when, before/after, why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Header
from sqlalchemy import (
    JSON,
    Engine,
    Index,
    Integer,
    String,
    Text,
    delete,
    event,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from referentials.core.access_writer import writer_for
from referentials.core.auth import Principal
from referentials.core.bulk_insert import insert_tuples
from referentials.core.db import Base, UTCDateTime, utcnow
from referentials.core.principal import SYSTEM


class AuditEntry(Base):
    """One change to one record; written in the transaction of the change it records."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entity", "entity_type", "entity_id", "id"),
        Index("ix_audit_action_at", "action", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_key_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(60))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    # Reads only: the purpose of use the caller declared (X-Purpose-Of-Use), when it did.
    purpose: Mapped[str | None] = mapped_column(String(200))


class AuditPurgeWindow(Base):
    """Open only inside the purge's transaction: the database lets audit rows go then only.

    Triggers (migration 0006) refuse any UPDATE of ``audit_entries`` and any DELETE made while
    this table is empty, so a bug or a stray statement cannot rewrite the trail.
    """

    __tablename__ = "audit_purge_window"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def record(
    session: Session,
    principal: Principal,
    *,
    entity_type: str,
    entity_id: str | int,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEntry:
    """Append an audit entry to the current transaction."""
    entry = AuditEntry(
        actor_key_id=principal.key_id,
        actor=principal.label,
        entity_type=entity_type,
        entity_id=str(entity_id),
        action=action,
        before=before,
        after=after,
        reason=reason,
    )
    session.add(entry)
    return entry


def record_many(
    session: Session,
    principal: Principal,
    *,
    entity_type: str,
    action: str,
    entries: Iterable[tuple[str | int, dict[str, Any] | None]],
    reason: str | None = None,
) -> None:
    """Append one entry per (entity id, after) in one statement: a bulk load's trail."""
    columns = ("actor_key_id", "actor", "entity_type", "entity_id", "action", "after", "reason")
    head = (principal.key_id, principal.label, entity_type)
    rows = [(*head, str(entity_id), action, after, reason) for entity_id, after in entries]
    insert_tuples(session, AuditEntry, columns, rows)


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Only the keys whose value differs, as ``{key: {"before": .., "after": ..}}``."""
    keys = set(before) | set(after)
    return {
        k: {"before": before.get(k), "after": after.get(k)}
        for k in sorted(keys)
        if before.get(k) != after.get(k)
    }


def list_for(session: Session, *, entity_type: str, entity_id: str | int) -> list[AuditEntry]:
    """The changes of one record, oldest first (reads are in the trail but not in a history)."""
    stmt = (
        select(AuditEntry)
        .where(
            AuditEntry.entity_type == entity_type,
            AuditEntry.entity_id == str(entity_id),
            AuditEntry.action.not_in(READ_ACTIONS),
        )
        .order_by(AuditEntry.id)
    )
    return list(session.scalars(stmt))


# Actions that record an access, not a change; the retention setting applies to them only.
READ_ACTIONS = ("read", "search")
PURPOSE_HEADER = "X-Purpose-Of-Use"
# The header a reading route declares, so that clients see it in the API's documentation.
Purpose = Annotated[
    str | None,
    Header(
        alias=PURPOSE_HEADER,
        max_length=200,
        description="why the record is read (e.g. TREATMENT); kept in the access trail",
    ),
]


def record_access(
    session: Session,
    principal: Principal,
    *,
    entity_type: str,
    entity_ids: Iterable[str | int],
    action: str = "read",
    purpose: str | None = None,
) -> None:
    """Record that ``principal`` saw these records (one row each), stored when the request commits.

    The rows wait in the session and go to the access writer once the transaction commits
    (``commit()`` returns only when they are stored); a rolled-back request records nothing.
    """
    if action not in READ_ACTIONS:
        raise ValueError(f"not a read action: {action}")
    now = utcnow()
    rows = [
        {
            "at": now,
            "actor_key_id": principal.key_id,
            "actor": principal.label,
            "entity_type": entity_type,
            "entity_id": str(ident),
            "action": action,
            "purpose": (purpose or "").strip()[:200] or None,
        }
        for ident in dict.fromkeys(entity_ids)
    ]
    session.info.setdefault(_PENDING, []).extend(rows)


_PENDING = "access_rows"


_COMMITTED = "access_rows_committed"


@event.listens_for(Session, "after_commit")
def _access_committed(session: Session) -> None:
    # A savepoint's release fires this event too: only the real commit counts.
    if not session.in_nested_transaction() and _PENDING in session.info:
        session.info[_COMMITTED] = session.info.pop(_PENDING)


@event.listens_for(Session, "after_transaction_end")
def _store_access(session: Session, transaction: Any) -> None:
    # Here the session's connection is back in the pool: the writer never waits for a
    # connection that a waiting request holds. Rolled back: the read was not answered.
    if transaction.parent is not None:
        return
    session.info.pop(_PENDING, None)
    rows = session.info.pop(_COMMITTED, None)
    if rows:
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        writer_for(engine, AuditEntry.__table__).write(rows)  # type: ignore[arg-type]


def purge_access(session: Session, *, older_than_days: int, principal: Principal = SYSTEM) -> int:
    """Delete access records older than the retention; changes are kept. The count deleted.

    The only deleter of the trail: it opens the purge window, deletes, closes it and records
    itself (cutoff and count) as an audit entry, all in the caller's transaction.
    """
    if older_than_days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=older_than_days)
    window = AuditPurgeWindow()
    session.add(window)
    session.flush()
    result = session.execute(
        delete(AuditEntry).where(AuditEntry.action.in_(READ_ACTIONS), AuditEntry.at < cutoff)
    )
    deleted = int(getattr(result, "rowcount", 0) or 0)
    session.execute(delete(AuditPurgeWindow).where(AuditPurgeWindow.id == window.id))
    session.expunge(window)
    record(
        session,
        principal,
        entity_type="audit",
        entity_id="access",
        action="purge",
        after={"cutoff": cutoff.isoformat(), "deleted": deleted, "kept_days": older_than_days},
    )
    session.flush()
    return deleted


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit trail; every one optional."""

    entity_type: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    actor_key_id: int | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def search(
    session: Session, query: AuditQuery, *, limit: int, offset: int
) -> tuple[list[AuditEntry], int]:
    """Entries matching the filters, newest first, with their total."""
    conditions: list[Any] = []
    if query.entity_type is not None:
        conditions.append(AuditEntry.entity_type == query.entity_type)
    if query.entity_id is not None:
        conditions.append(AuditEntry.entity_id == query.entity_id)
    if query.actor is not None:
        conditions.append(AuditEntry.actor == query.actor)
    if query.actor_key_id is not None:
        conditions.append(AuditEntry.actor_key_id == query.actor_key_id)
    if query.action is not None:
        conditions.append(AuditEntry.action == query.action)
    if query.since is not None:
        conditions.append(AuditEntry.at >= query.since)
    if query.until is not None:
        conditions.append(AuditEntry.at < query.until)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    stmt = (
        select(AuditEntry)
        .where(*conditions)
        .order_by(AuditEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt)), total
