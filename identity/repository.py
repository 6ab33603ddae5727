"""Queries of the identity context (the only module that builds ``select()``)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from identity.models import DuplicatePair, Identity, IdentityEvent, SourceRecord
from referentials.core.db import utcnow


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


def list_pairs(
    session: Session,
    *,
    status: str | None,
    band: str | None,
    min_score: float | None,
    finess: str | None,
    older_than_days: int | None,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[list[DuplicatePair], int]:
    """Queue pairs with filters; 'priority' sorts by score then age (oldest first)."""
    stmt = select(DuplicatePair)
    if status:
        stmt = stmt.where(DuplicatePair.status == status)
    if band:
        stmt = stmt.where(DuplicatePair.band == band)
    if min_score is not None:
        stmt = stmt.where(DuplicatePair.score >= min_score)
    if finess:
        stmt = stmt.where(DuplicatePair.establishments.contains(finess))
    if older_than_days is not None:
        stmt = stmt.where(DuplicatePair.created_at <= utcnow() - timedelta(days=older_than_days))
    order = {
        "priority": (DuplicatePair.score.desc(), DuplicatePair.created_at, DuplicatePair.id),
        "score": (DuplicatePair.score.desc(), DuplicatePair.id),
        "age": (DuplicatePair.created_at, DuplicatePair.id),
        "recent": (DuplicatePair.created_at.desc(), DuplicatePair.id.desc()),
    }[sort]
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(*order).limit(limit).offset(offset))
    return list(rows), total


def pair_counts(session: Session) -> dict[tuple[str, str], int]:
    """Pairs by (status, band)."""
    stmt = select(DuplicatePair.status, DuplicatePair.band, func.count()).group_by(
        DuplicatePair.status, DuplicatePair.band
    )
    return {(s, b): int(n) for s, b, n in session.execute(stmt)}


def by_active_ins(session: Session, matricule: str) -> Identity | None:
    """The active identity carrying this matricule, if any."""
    stmt = (
        select(Identity)
        .where(Identity.ins_matricule == matricule, Identity.active.is_(True))
        .order_by(Identity.id)
        .options(selectinload(Identity.sources))
    )
    return session.scalars(stmt).first()
