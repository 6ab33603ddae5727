"""The audit trail: who did what to which record, when, before/after, why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from referentials.core.auth import Principal
from referentials.core.db import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """One change to one record; written in the transaction of the change it records."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id", "id"),)

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


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Only the keys whose value differs, as ``{key: {"before": .., "after": ..}}``."""
    keys = set(before) | set(after)
    return {
        k: {"before": before.get(k), "after": after.get(k)}
        for k in sorted(keys)
        if before.get(k) != after.get(k)
    }


def list_for(session: Session, *, entity_type: str, entity_id: str | int) -> list[AuditEntry]:
    """The trail of one record, oldest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.id)
    )
    return list(session.scalars(stmt))
