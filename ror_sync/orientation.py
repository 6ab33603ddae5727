"""Orientation search: open offers near a commune for a patient's age, nearest first."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from referentials.core.db import utcnow
from referentials.core.errors import ValidationFailed
from referentials.directory import service as directory_service
from ror_sync import codes, completeness, repository
from ror_sync.errors import UnknownCommune
from ror_sync.models import RorLocation, RorOffer

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class OfferQuery:
    commune: str
    radius_km: float = 30.0
    activity: str | None = None
    champ: str | None = None
    age: float | None = None


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


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


def _position(
    session: Session, offer: RorOffer, place: RorLocation | None, cache: dict[str, Any]
) -> tuple[float, float] | None:
    if place is not None and place.latitude is not None and place.longitude is not None:
        return place.latitude, place.longitude
    if not offer.eg_finess:
        return None
    if offer.eg_finess not in cache:
        cache[offer.eg_finess] = directory_service.get_structure_facts(session, offer.eg_finess)
    facts = cache[offer.eg_finess]
    if facts is None or facts.latitude is None or facts.longitude is None:
        return None
    return facts.latitude, facts.longitude


def search(session: Session, query: OfferQuery) -> list[dict[str, Any]]:
    """Offers within the radius, one line per offer at its nearest place, nearest first."""
    origin = commune_position(session, query.commune)
    today = utcnow().date()
    best: dict[int, tuple[float, RorOffer, RorLocation | None, tuple[float, float]]] = {}
    cache: dict[str, Any] = {}
    candidates = repository.offer_candidates(
        session, activity=query.activity, champ=champ_code(query.champ), age=query.age
    )
    for offer, place in candidates:
        if completeness.closed_for_good(offer.closed_on, offer.closing_type, today):
            continue
        position = _position(session, offer, place, cache)
        if position is None:
            continue
        distance = haversine_km(origin[0], origin[1], *position)
        if distance <= query.radius_km and (offer.id not in best or distance < best[offer.id][0]):
            best[offer.id] = (distance, offer, place, position)
    ranked = sorted(best.values(), key=lambda item: (item[0], item[1].resource_id))
    capacities = repository.capacities(session, [p.id for _, _, p, _ in ranked if p is not None])
    return [_item(d, o, p, pos, capacities) for d, o, p, pos in ranked]


def _item(
    distance: float,
    offer: RorOffer,
    place: RorLocation | None,
    position: tuple[float, float],
    capacities: dict[int, list[Any]],
) -> dict[str, Any]:
    caps = capacities.get(place.id, []) if place is not None else []
    return {
        "offer_id": offer.resource_id,
        "identifier": offer.identifier,
        "name": offer.name,
        "champ": offer.champ,
        "champ_label": codes.CHAMPS.get(offer.champ or ""),
        "activities": [a for a in offer.activities.split(",") if a],
        "care_mode": offer.care_mode,
        "age_min": offer.age_min,
        "age_max": offer.age_max,
        "eg_finess": offer.eg_finess,
        "place": place.name if place else None,
        "address": " ".join(filter(None, [place.address_line, place.postal_code, place.city]))
        if place
        else None,
        "commune_cog": place.commune_cog if place else None,
        "latitude": position[0],
        "longitude": position[1],
        "distance_km": round(distance, 2),
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
    }
