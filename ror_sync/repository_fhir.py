"""Queries of the ROR FHIR API: criteria per resource type, pages, includes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from ror_sync.models import (
    RorCapacity,
    RorContact,
    RorLocation,
    RorOffer,
    RorOfferActivity,
    RorOfferLocation,
    RorOrganization,
    RorPractitionerRole,
)

CHUNK = 900  # under SQLite's bound-parameter limit
Row = TypeVar("Row", RorOrganization, RorOffer, RorLocation, RorPractitionerRole)
# (operator, instant) pairs of a _lastUpdated search: ("ge", 2026-01-01T00:00Z) ...
Updated = tuple[tuple[str, datetime], ...]


@dataclass(frozen=True)
class OrganizationCriteria:
    ids: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    finess: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    oi_types: tuple[str, ...] = ()
    part_of: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    postal_codes: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    updated: Updated = ()


@dataclass(frozen=True)
class OfferCriteria:
    ids: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    champs: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    age_low: tuple[tuple[str, float], ...] = ()
    age_high: tuple[tuple[str, float], ...] = ()
    updated: Updated = ()


@dataclass(frozen=True)
class LocationCriteria:
    ids: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    managers: tuple[str, ...] = ()
    cities: tuple[str, ...] = ()
    postal_codes: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    updated: Updated = ()


@dataclass(frozen=True)
class RoleCriteria:
    ids: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    practitioners: tuple[str, ...] = ()
    offers: tuple[str, ...] = ()
    organizations: tuple[str, ...] = ()
    professions: tuple[str, ...] = ()
    updated: Updated = ()


def _compare(column: Any, op: str, value: Any) -> Any:
    return {
        "eq": column == value,
        "ge": column >= value,
        "gt": column > value,
        "le": column <= value,
        "lt": column < value,
    }[op]


def _updated(column: Any, updated: Updated) -> list[Any]:
    return [_compare(column, op, value) for op, value in updated]


def _ages(column: Any, bounds: tuple[tuple[str, float], ...], unset_passes: set[str]) -> list[Any]:
    # An unset bound is no limit: no minimum is below any age, no maximum above any.
    return [
        column.is_(None) | _compare(column, op, value)
        if op in unset_passes
        else _compare(column, op, value)
        for op, value in bounds
    ]


def _any(column: Any, values: Sequence[str]) -> list[Any]:
    return [column.in_(values)] if values else []


def _insensitive(column: Any, values: Sequence[str]) -> list[Any]:
    return [func.lower(column).in_([v.lower() for v in values])] if values else []


def organization_conditions(c: OrganizationCriteria) -> list[Any]:
    m = RorOrganization
    return [
        *_any(m.resource_id, c.ids),
        *_any(m.region, c.regions),
        *_any(m.finess, c.finess),
        *_any(m.kind, c.kinds),
        *_any(m.category, c.categories),
        *_any(m.oi_type, c.oi_types),
        *_any(m.part_of, c.part_of),
        *_insensitive(m.city, c.cities),
        *_any(m.postal_code, c.postal_codes),
        *_any(m.commune_cog, c.communes),
        *_updated(m.last_updated, c.updated),
    ]


def offer_conditions(c: OfferCriteria) -> list[Any]:
    m = RorOffer
    found = [
        *_any(m.resource_id, c.ids),
        *_any(m.region, c.regions),
        *_any(m.identifier, c.identifiers),
        *_any(m.champ, c.champs),
        *_any(m.org_category, c.categories),
        *_any(m.provided_by, c.providers),
        *_updated(m.last_updated, c.updated),
    ]
    if c.activities:
        found.append(
            exists().where(
                RorOfferActivity.offer_id == m.id, RorOfferActivity.code.in_(c.activities)
            )
        )
    if c.places:
        found.append(
            exists().where(
                RorOfferLocation.offer_id == m.id,
                RorOfferLocation.location_resource_id.in_(c.places),
            )
        )
    found += _ages(m.age_min, c.age_low, {"le", "lt"})
    found += _ages(m.age_max, c.age_high, {"ge", "gt"})
    return found


def location_conditions(c: LocationCriteria) -> list[Any]:
    m = RorLocation
    return [
        *_any(m.resource_id, c.ids),
        *_any(m.region, c.regions),
        *_any(m.managing_org, c.managers),
        *_insensitive(m.city, c.cities),
        *_any(m.postal_code, c.postal_codes),
        *_any(m.commune_cog, c.communes),
        *_updated(m.last_updated, c.updated),
    ]


def role_conditions(c: RoleCriteria) -> list[Any]:
    m = RorPractitionerRole
    return [
        *_any(m.resource_id, c.ids),
        *_any(m.region, c.regions),
        *_any(m.identifier, c.identifiers),
        *_any(m.practitioner, c.practitioners),
        *_any(m.offer, c.offers),
        *_any(m.organization, c.organizations),
        *_any(m.profession, c.professions),
        *_updated(m.last_updated, c.updated),
    ]


def page(
    session: Session, model: type[Row], conditions: list[Any], *, limit: int, offset: int
) -> tuple[list[Row], int]:
    """One page of rows (by resource id) and the total for the same conditions."""
    where = and_(True, *conditions)
    total = session.scalar(select(func.count()).select_from(model).where(where)) or 0
    stmt = select(model).where(where).order_by(model.resource_id).limit(limit).offset(offset)
    return list(session.scalars(stmt)), int(total)


def matching_ids(
    session: Session, model: type[Row], conditions: list[Any], ids: Sequence[str]
) -> set[str]:
    """Which of these resource ids also meet the conditions."""
    found: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        stmt = select(model.resource_id).where(model.resource_id.in_(part), *conditions)
        found.update(session.scalars(stmt))
    return found


def by_ids(session: Session, model: type[Row], ids: Sequence[str]) -> list[Row]:
    found: list[Row] = []
    unique = sorted(set(ids))
    for start in range(0, len(unique), CHUNK):
        part = unique[start : start + CHUNK]
        found += session.scalars(select(model).where(model.resource_id.in_(part)))
    return found


def referring(
    session: Session, model: type[Row], column: Any, targets: Sequence[str], *, limit: int
) -> list[Row]:
    """Rows whose ``column`` points at one of ``targets`` (a _revinclude), at most ``limit``."""
    if not targets:
        return []
    stmt = (
        select(model)
        .where(column.in_(sorted(set(targets))[:CHUNK]))
        .order_by(model.resource_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def offers_at_places(session: Session, places: Sequence[str], *, limit: int) -> list[RorOffer]:
    """Offers with one of these places (the _revinclude HealthcareService:location)."""
    if not places:
        return []
    stmt = (
        select(RorOffer)
        .where(
            exists().where(
                RorOfferLocation.offer_id == RorOffer.id,
                RorOfferLocation.location_resource_id.in_(sorted(set(places))[:CHUNK]),
            )
        )
        .order_by(RorOffer.resource_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _grouped(session: Session, stmt_of: Any, ids: Sequence[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), CHUNK):
        for key, value in session.execute(stmt_of(unique[start : start + CHUNK])):
            found.setdefault(key, []).append(value)
    return found


def places_of(session: Session, offer_ids: Sequence[int]) -> dict[int, list[str]]:
    return _grouped(
        session,
        lambda part: (
            select(RorOfferLocation.offer_id, RorOfferLocation.location_resource_id)
            .where(RorOfferLocation.offer_id.in_(part))
            .order_by(RorOfferLocation.location_resource_id)
        ),
        offer_ids,
    )


def offer_contacts(session: Session, offer_ids: Sequence[int]) -> dict[int, list[RorContact]]:
    return _grouped(
        session,
        lambda part: (
            select(RorContact.offer_id, RorContact)
            .where(RorContact.offer_id.in_(part))
            .order_by(RorContact.id)
        ),
        offer_ids,
    )


def organization_contacts(session: Session, org_ids: Sequence[int]) -> dict[int, list[RorContact]]:
    return _grouped(
        session,
        lambda part: (
            select(RorContact.organization_id, RorContact)
            .where(RorContact.organization_id.in_(part))
            .order_by(RorContact.id)
        ),
        org_ids,
    )


def place_capacities(session: Session, place_ids: Sequence[int]) -> dict[int, list[RorCapacity]]:
    return _grouped(
        session,
        lambda part: (
            select(RorCapacity.location_id, RorCapacity)
            .where(RorCapacity.location_id.in_(part))
            .order_by(RorCapacity.id)
        ),
        place_ids,
    )
