"""Queries of the identity context (the only module that builds ``select()``)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from identity.models import Identity, IdentityEvent, SourceRecord


def get(session: Session, identity_id: int, *, for_update: bool = False) -> Identity | None:
    stmt = (
        select(Identity).where(Identity.id == identity_id).options(selectinload(Identity.sources))
    )
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def by_source(session: Session, finess: str, local_id: str) -> Identity | None:
    stmt = (
        select(Identity)
        .join(SourceRecord, SourceRecord.identity_id == Identity.id)
        .where(SourceRecord.finess == finess, SourceRecord.local_id == local_id)
        .options(selectinload(Identity.sources))
    )
    return session.scalar(stmt)


def search(
    session: Session,
    *,
    birth_name: str | None,
    first_name: str | None,
    birth_date: date | None,
    source_finess: str | None,
    include_inactive: bool,
    limit: int,
    offset: int,
) -> tuple[list[Identity], int]:
    """Identities matching every given normalised trait, with the total count."""
    stmt = select(Identity)
    if birth_name:
        stmt = stmt.where(Identity.birth_name == birth_name)
    if first_name:
        # Any of the birth given names, or the used first name.
        stmt = stmt.where(
            (Identity.first_name == first_name)
            | (Identity.used_first_name == first_name)
            | (Identity.first_names.like(f"% {first_name}"))
            | (Identity.first_names.like(f"% {first_name} %"))
        )
    if birth_date:
        stmt = stmt.where(Identity.birth_date == birth_date)
    if source_finess:
        stmt = stmt.where(
            Identity.id.in_(
                select(SourceRecord.identity_id).where(SourceRecord.finess == source_finess)
            )
        )
    if not include_inactive:
        stmt = stmt.where(Identity.active.is_(True))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Identity.id)
        .limit(limit)
        .offset(offset)
        .options(selectinload(Identity.sources))
    )
    return list(rows), total


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Identity)) or 0


def events_after(session: Session, cursor: int, limit: int) -> list[IdentityEvent]:
    stmt = select(IdentityEvent).where(IdentityEvent.id > cursor).order_by(IdentityEvent.id)
    return list(session.scalars(stmt.limit(limit)))
