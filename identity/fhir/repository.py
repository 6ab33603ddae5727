"""Queries behind the FHIR Patient search, PIXm, links and the numbers of notifications
(this package's only ``select()``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from identity.referential.models import Identity, SourceLink, SourceRecord
from referentials.core.notify.models import Delivery


@dataclass(frozen=True)
class PatientQuery:
    """Normalised criteria; names match as prefixes unless ``exact``."""

    family: str | None = None
    family_exact: bool = False
    given: str | None = None
    given_exact: bool = False
    birth_from: date | None = None
    birth_to: date | None = None
    sex: str | None = None
    # (finess or None for any establishment, local id)
    source: tuple[str | None, str] | None = None
    # (matricule, oid or None): only QUAL identities answer (national rule).
    ins: tuple[str, str | None] | None = None
    active: bool | None = None
    identity_id: int | None = None
    # A criterion that can match nothing (unknown system, gender other/unknown).
    impossible: bool = False


def _name(column: Any, value: str, exact: bool) -> ColumnElement[bool]:
    # Stored names hold only A-Z, space, apostrophe and hyphen: no LIKE wildcard to escape.
    return column == value if exact else column.like(f"{value}%")


def _given(value: str, exact: bool) -> ColumnElement[bool]:
    if exact:
        return or_(
            Identity.first_name == value,
            Identity.used_first_name == value,
            Identity.first_names.like(f"% {value}"),
            Identity.first_names.like(f"% {value} %"),
        )
    return or_(
        Identity.first_names.like(f"{value}%"),
        Identity.first_names.like(f"% {value}%"),
        Identity.used_first_name.like(f"{value}%"),
    )


def _source_filter(finess: str | None, local_id: str) -> ColumnElement[bool]:
    sub = select(SourceRecord.identity_id).where(SourceRecord.local_id == local_id)
    if finess is not None:
        sub = sub.where(SourceRecord.finess == finess)
    return Identity.id.in_(sub)


def _ins_filter(matricule: str, oid: str | None) -> ColumnElement[bool]:
    conditions = [Identity.status == "QUAL", Identity.ins_matricule == matricule]
    if oid is not None:
        conditions.append(Identity.ins_oid == oid)
    return Identity.id.in_(select(Identity.id).where(*conditions))


def _statement(q: PatientQuery) -> Select[Any]:
    stmt = select(Identity)
    if q.impossible:
        return stmt.where(Identity.id < 0)
    if q.family:
        stmt = stmt.where(
            or_(
                _name(Identity.birth_name, q.family, q.family_exact),
                _name(Identity.used_name, q.family, q.family_exact),
            )
        )
    if q.given:
        stmt = stmt.where(_given(q.given, q.given_exact))
    if q.birth_from:
        stmt = stmt.where(Identity.birth_date >= q.birth_from)
    if q.birth_to:
        stmt = stmt.where(Identity.birth_date <= q.birth_to)
    if q.sex:
        stmt = stmt.where(Identity.sex == q.sex)
    if q.source:
        stmt = stmt.where(_source_filter(*q.source))
    if q.ins:
        stmt = stmt.where(_ins_filter(*q.ins))
    if q.active is not None:
        stmt = stmt.where(Identity.active.is_(q.active))
    if q.identity_id is not None:
        stmt = stmt.where(Identity.id == q.identity_id)
    return stmt


def search(
    session: Session, query: PatientQuery, *, limit: int, offset: int
) -> tuple[list[Identity], int]:
    stmt = _statement(query)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if limit == 0:
        return [], int(total)
    page = stmt.order_by(Identity.id).limit(limit).offset(offset)
    rows: list[Identity] = list(session.scalars(page.options(selectinload(Identity.sources))))
    return rows, int(total)


def patient_links(session: Session, identity_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """For each identity, its ``Patient.link`` besides ``replaced-by``: ``replaces`` for each
    identity merged into it, then ``seealso`` for each other identity holding a local id that
    an establishment linked to one of its own (PAM France A24)."""
    if not identity_ids:
        return {}
    out: dict[int, list[tuple[str, int]]] = {}
    merged = (
        select(Identity.merged_into_id, Identity.id)
        .where(Identity.merged_into_id.in_(identity_ids))
        .order_by(Identity.id)
    )
    for survivor, loser in session.execute(merged):
        if survivor is not None:
            out.setdefault(survivor, []).append(("replaces", loser))
    first, second = aliased(SourceRecord), aliased(SourceRecord)
    linked = (
        select(first.identity_id, second.identity_id)
        .select_from(SourceLink)
        .join(first, first.id == SourceLink.source_id)
        .join(second, second.id == SourceLink.linked_source_id)
        .where(or_(first.identity_id.in_(identity_ids), second.identity_id.in_(identity_ids)))
    )
    wanted = set(identity_ids)
    seen: dict[int, set[int]] = {}
    for one, other in session.execute(linked):
        if one != other:
            for own, found in ((one, other), (other, one)):
                if own in wanted:
                    seen.setdefault(own, set()).add(found)
    for own, found_ids in seen.items():
        out.setdefault(own, []).extend(("seealso", x) for x in sorted(found_ids))
    return out


def events_until(session: Session, subscription_id: int, source: str, cursor: int) -> int:
    """How many events a subscription has been given up to this one (its event number):
    the Subscriptions Backport's ``events-since-subscription-start``, gap-free per subscription."""
    stmt = select(func.count(Delivery.id)).where(
        Delivery.subscription_id == subscription_id,
        Delivery.source == source,
        Delivery.cursor <= cursor,
    )
    return int(session.scalar(stmt) or 0)
