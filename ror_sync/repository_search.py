"""Queries of the orientation search: a spatial prefilter on indexed coordinates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, exists, literal, or_, select, union_all
from sqlalchemy.orm import Session

from ror_sync.geo import Box
from ror_sync.models import (
    RorLocation,
    RorOffer,
    RorOfferActivity,
    RorOfferLocation,
    RorOrganization,
)


@dataclass(frozen=True)
class OfferFilter:
    """What an offer must offer: any of the activities, the champ, a patient's age."""

    activities: tuple[str, ...] = ()
    champ: str | None = None
    age: float | None = None


class NearRow(NamedTuple):
    """One offer at one place (or at its EG when the place has no coordinates)."""

    offer_id: int
    resource_id: str
    identifier: str | None
    name: str | None
    champ: str | None
    activities: str
    care_mode: str | None
    age_min: float | None
    age_max: float | None
    eg_finess: str | None
    closed_on: Any
    closing_type: str | None
    place_id: int | None
    place_resource_id: str | None
    place_name: str | None
    address_line: str | None
    postal_code: str | None
    city: str | None
    commune_cog: str | None
    latitude: float
    longitude: float
    by_eg: bool


def _offer_columns() -> list[Any]:
    return [
        RorOffer.id,
        RorOffer.resource_id,
        RorOffer.identifier,
        RorOffer.name,
        RorOffer.champ,
        RorOffer.activities,
        RorOffer.care_mode,
        RorOffer.age_min,
        RorOffer.age_max,
        RorOffer.eg_finess,
        RorOffer.closed_on,
        RorOffer.closing_type,
        RorLocation.id,
        RorLocation.resource_id,
        RorLocation.name,
        RorLocation.address_line,
        RorLocation.postal_code,
        RorLocation.city,
        RorLocation.commune_cog,
    ]


def _filtered(stmt: Select[Any], wanted: OfferFilter) -> Select[Any]:
    stmt = stmt.where(RorOffer.active.is_(True))
    if wanted.activities:
        stmt = stmt.where(
            exists().where(
                RorOfferActivity.offer_id == RorOffer.id,
                RorOfferActivity.code.in_(wanted.activities),
            )
        )
    if wanted.champ:
        stmt = stmt.where(RorOffer.champ == wanted.champ)
    if wanted.age is not None:
        stmt = stmt.where(
            (RorOffer.age_min.is_(None) | (RorOffer.age_min <= wanted.age))
            & (RorOffer.age_max.is_(None) | (RorOffer.age_max >= wanted.age))
        )
    return stmt


def _in_box(model: type[RorLocation] | type[RorOrganization], box: Box) -> Any:
    return and_(
        model.lat_band.in_(box.bands()),
        model.longitude.between(box.min_lon, box.max_lon),
        model.latitude.between(box.min_lat, box.max_lat),
    )


def near_rows(session: Session, box: Box, wanted: OfferFilter) -> list[NearRow]:
    """Offers × places inside the box, in one statement.

    A place with coordinates is found through the (latitude, longitude) index of the places;
    an offer whose place has none (or that has no place) through its EG's FINESS position,
    indexed the same way on the organisations.
    """
    placed = _filtered(
        select(*_offer_columns(), RorLocation.latitude, RorLocation.longitude, literal(False))
        .select_from(RorLocation)
        .join(RorOfferLocation, RorOfferLocation.location_resource_id == RorLocation.resource_id)
        .join(RorOffer, RorOffer.id == RorOfferLocation.offer_id)
        .where(_in_box(RorLocation, box)),
        wanted,
    )
    by_eg = _filtered(
        select(
            *_offer_columns(), RorOrganization.latitude, RorOrganization.longitude, literal(True)
        )
        .select_from(RorOrganization)
        .join(RorOffer, RorOffer.eg_resource_id == RorOrganization.resource_id)
        .outerjoin(RorOfferLocation, RorOfferLocation.offer_id == RorOffer.id)
        .outerjoin(RorLocation, RorLocation.resource_id == RorOfferLocation.location_resource_id)
        .where(
            _in_box(RorOrganization, box),
            or_(RorLocation.latitude.is_(None), RorLocation.longitude.is_(None)),
        ),
        wanted,
    )
    result = session.connection().execute(union_all(placed, by_eg))
    return [NearRow._make([*row[:-1], bool(row[-1])]) for row in result]


def offers_placed(session: Session, offer_ids: Sequence[int]) -> dict[int, list[str]]:
    """The place resource ids of each offer."""
    found: dict[int, list[str]] = {}
    for start in range(0, len(offer_ids), 900):
        part = offer_ids[start : start + 900]
        stmt = select(RorOfferLocation.offer_id, RorOfferLocation.location_resource_id).where(
            RorOfferLocation.offer_id.in_(part)
        )
        for offer_id, place in session.execute(stmt):
            found.setdefault(offer_id, []).append(place)
    return found


def places_in_box(session: Session, box: Box) -> list[RorLocation]:
    """Places whose coordinates fall inside the box (the index on the places)."""
    stmt = select(RorLocation).where(_in_box(RorLocation, box))
    return list(session.scalars(stmt))
