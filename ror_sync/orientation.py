"""Orientation search: open offers near a point or a commune, nearest first, explained.

The cost is bounded by the area searched, not by the size of the ROR: one statement
prefilters offers × places on a bounding box of indexed coordinates, the exact great-circle
distance is then computed on those rows only, and the capacities of the page shown are read
in one more statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from referentials.core.db import utcnow
from referentials.core.errors import ValidationFailed
from referentials.directory import service as directory_service
from ror_sync import codes, completeness, repository, repository_search
from ror_sync.errors import UnknownCommune
from ror_sync.geo import bounding_box, haversine_km
from ror_sync.models import RorLocation
from ror_sync.repository_search import NearRow, OfferFilter

__all__ = ["Match", "NearQuery", "OfferQuery", "haversine_km", "search", "search_near"]


@dataclass(frozen=True)
class OfferQuery:
    commune: str
    radius_km: float = 30.0
    activity: str | None = None
    champ: str | None = None
    age: float | None = None


@dataclass(frozen=True)
class NearQuery:
    """Offers within ``radius_km`` of a WGS84 point."""

    latitude: float
    longitude: float
    radius_km: float
    activities: tuple[str, ...] = ()
    champ: str | None = None
    age: float | None = None


@dataclass(frozen=True)
class Match:
    """An offer at its nearest place, with why it was found."""

    distance_km: float
    row: NearRow
    query: NearQuery

    @property
    def reasons(self) -> tuple[str, ...]:
        # Worded on demand: only the page shown needs it, not every offer of the area.
        return _reasons(self.query, self.row, self.distance_km)


def _department_of_cog(cog: str) -> str:
    return cog[:3] if cog.startswith("97") else cog[:2]


def commune_position(session: Session, cog: str) -> tuple[float, float]:
    """Mean position of the ROR places, else of the FINESS structures, of a commune."""
    points = repository.commune_positions(session, cog)
    if not points:
        points = [
            (s.latitude, s.longitude)
            for s in directory_service.structure_facts(
                session, department=_department_of_cog(cog), active_only=False
            )
            if s.commune_cog == cog and s.latitude is not None and s.longitude is not None
        ]
    if not points:
        raise UnknownCommune(
            f"no known position for commune {cog}: no ROR place nor FINESS structure there",
            fields={"commune": cog},
        )
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def champ_code(value: str | None) -> str | None:
    """A champ given as its code (01) or its short label (MCO)."""
    if value is None:
        return None
    if value in codes.CHAMPS:
        return value
    for code, label in codes.CHAMPS.items():
        if label.lower() == value.lower():
            return code
    raise ValidationFailed(
        "champ takes a TRE_R227 code or label: "
        + ", ".join(f"{c} {n}" for c, n in codes.CHAMPS.items()),
        fields={"champ": value},
    )


def _age_reason(age: float, row: NearRow) -> str:
    low = "no minimum" if row.age_min is None else f"{row.age_min:g}"
    high = "no maximum" if row.age_max is None else f"{row.age_max:g}"
    return f"takes a patient aged {age:g}: ages {low} to {high}"


def _reasons(query: NearQuery, row: NearRow, distance: float) -> tuple[str, ...]:
    where = (
        f"its EG's FINESS position (FINESS {row.eg_finess}; its place has no coordinates)"
        if row.by_eg
        else f"its place {row.place_resource_id}"
    )
    found = [
        f"{distance:.1f} km from the point searched (radius {query.radius_km:g} km), at {where}"
    ]
    offered = [a for a in row.activities.split(",") if a in query.activities]
    if offered:
        found.append("offers activité opérationnelle " + ", ".join(offered) + " (TRE_R211)")
    if query.champ:
        found.append(f"champ d'activité {query.champ} {codes.CHAMPS.get(query.champ, '')}".strip())
    if query.age is not None:
        found.append(_age_reason(query.age, row))
    found.append("open: no definitive closing")
    return tuple(found)


def search_near(session: Session, query: NearQuery) -> list[Match]:
    """Open offers within the radius, each at its nearest place, nearest first."""
    today = utcnow().date()
    box = bounding_box(query.latitude, query.longitude, query.radius_km)
    wanted = OfferFilter(activities=query.activities, champ=query.champ, age=query.age)
    best: dict[int, tuple[float, NearRow]] = {}
    for row in repository_search.near_rows(session, box, wanted):
        if completeness.closed_for_good(row.closed_on, row.closing_type, today):
            continue
        distance = haversine_km(query.latitude, query.longitude, row.latitude, row.longitude)
        if distance <= query.radius_km and (
            row.offer_id not in best or distance < best[row.offer_id][0]
        ):
            best[row.offer_id] = (distance, row)
    ranked = sorted(best.values(), key=lambda item: (item[0], item[1].resource_id))
    return [Match(d, row, query) for d, row in ranked]


def places_near(
    session: Session, latitude: float, longitude: float, radius_km: float
) -> list[tuple[float, RorLocation]]:
    """Places within the radius, nearest first."""
    box = bounding_box(latitude, longitude, radius_km)
    found = []
    for place in repository_search.places_in_box(session, box):
        distance = haversine_km(latitude, longitude, place.latitude or 0, place.longitude or 0)
        if distance <= radius_km:
            found.append((distance, place))
    return sorted(found, key=lambda item: (item[0], item[1].resource_id))


def search(session: Session, query: OfferQuery) -> list[Match]:
    """The orientation search of the REST API: around a commune's position."""
    lat, lon = commune_position(session, query.commune)
    return search_near(
        session,
        NearQuery(
            latitude=lat,
            longitude=lon,
            radius_km=query.radius_km,
            activities=(query.activity,) if query.activity else (),
            champ=champ_code(query.champ),
            age=query.age,
        ),
    )


def describe(session: Session, matches: list[Match]) -> list[dict[str, Any]]:
    """The REST lines of a page of matches, with their places' capacities."""
    places = [m.row.place_id for m in matches if m.row.place_id is not None]
    capacities = repository.capacities(session, places)
    return [_item(m, capacities) for m in matches]


def _item(match: Match, capacities: dict[int, list[Any]]) -> dict[str, Any]:
    row = match.row
    has_place = row.place_id is not None
    caps = capacities.get(row.place_id, []) if row.place_id is not None else []
    return {
        "offer_id": row.resource_id,
        "identifier": row.identifier,
        "name": row.name,
        "champ": row.champ,
        "champ_label": codes.CHAMPS.get(row.champ or ""),
        "activities": [a for a in row.activities.split(",") if a],
        "care_mode": row.care_mode,
        "age_min": row.age_min,
        "age_max": row.age_max,
        "eg_finess": row.eg_finess,
        "place": row.place_name if has_place else None,
        "address": " ".join(filter(None, [row.address_line, row.postal_code, row.city]))
        if has_place
        else None,
        "commune_cog": row.commune_cog if has_place else None,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "distance_km": round(match.distance_km, 2),
        "capacity": sum(c.count for c in caps) if caps else None,
        "capacities": [
            {
                "type_code": c.type_code,
                "status_code": c.status_code,
                "temporality_code": c.temporality_code,
                "count": c.count,
            }
            for c in caps
        ],
        "why": list(match.reasons),
    }
