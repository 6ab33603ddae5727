"""Queries of the orientation search: a spatial prefilter on indexed coordinates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    CompoundSelect,
    Float,
    Select,
    and_,
    bindparam,
    exists,
    literal,
    or_,
    select,
    union_all,
)
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


def _filtered(stmt: Select[Any], shape: tuple[bool, bool, bool]) -> Select[Any]:
    with_activities, with_champ, with_age = shape
    stmt = stmt.where(RorOffer.active.is_(True))
    if with_activities:
        stmt = stmt.where(
            exists().where(
                RorOfferActivity.offer_id == RorOffer.id,
                RorOfferActivity.code.in_(bindparam("activities", expanding=True)),
            )
        )
    if with_champ:
        stmt = stmt.where(RorOffer.champ == bindparam("champ"))
    if with_age:
        age = bindparam("age", type_=Float)
        stmt = stmt.where(
            (RorOffer.age_min.is_(None) | (RorOffer.age_min <= age))
            & (RorOffer.age_max.is_(None) | (RorOffer.age_max >= age))
        )
    return stmt


def _in_box(model: type[RorLocation] | type[RorOrganization]) -> Any:
    return and_(
        model.lat_band.in_(bindparam("bands", expanding=True)),
        model.longitude.between(bindparam("min_lon"), bindparam("max_lon")),
        model.latitude.between(bindparam("min_lat"), bindparam("max_lat")),
    )


def _box_values(box: Box) -> dict[str, Any]:
    return {
        "bands": box.bands(),
        "min_lat": box.min_lat,
        "max_lat": box.max_lat,
        "min_lon": box.min_lon,
        "max_lon": box.max_lon,
    }


@lru_cache(maxsize=8)
def _near_statement(shape: tuple[bool, bool, bool]) -> CompoundSelect:
    """The statement of one combination of filters, built once (the values are bound)."""
    placed = _filtered(
        select(*_offer_columns(), RorLocation.latitude, RorLocation.longitude, literal(False))
        .select_from(RorLocation)
        .join(RorOfferLocation, RorOfferLocation.location_resource_id == RorLocation.resource_id)
        .join(RorOffer, RorOffer.id == RorOfferLocation.offer_id)
        .where(_in_box(RorLocation)),
        shape,
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
            _in_box(RorOrganization),
            or_(RorLocation.latitude.is_(None), RorLocation.longitude.is_(None)),
        ),
        shape,
    )
    return union_all(placed, by_eg)


def near_rows(session: Session, box: Box, wanted: OfferFilter) -> list[NearRow]:
    """Offers × places inside the box, in one statement.

    A place with coordinates is found through the (latitude band, longitude) index of the
    places; an offer whose place has none (or that has no place) through its EG's FINESS
    position, indexed the same way on the organisations.
    """
    shape = (bool(wanted.activities), wanted.champ is not None, wanted.age is not None)
    values = _box_values(box)
    filters = {"activities": list(wanted.activities), "champ": wanted.champ, "age": wanted.age}
    for name, on in zip(filters, shape, strict=True):
        if on:
            values[name] = filters[name]
    result = session.connection().execute(_near_statement(shape), values)
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
    stmt = select(RorLocation).where(_in_box(RorLocation))
    return list(session.scalars(stmt, _box_values(box)))
