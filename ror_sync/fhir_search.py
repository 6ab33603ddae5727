"""ROR FHIR reads and searches: criteria to rows, rows to resources, _include/_revinclude."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from referentials.core.errors import NotFound
from referentials.core.fhir import FhirBadRequest
from ror_sync import fhir_params, orientation
from ror_sync import repository_fhir as repo
from ror_sync.fhir_emit import location, organization, practitioner_role
from ror_sync.fhir_emit_offer import healthcare_service
from ror_sync.models import RorLocation, RorOffer, RorOrganization, RorPractitionerRole

# Resources a _revinclude may add to one page: a page is capped, what it draws in is too.
REVINCLUDE_LIMIT = 1000
MAX_DEPTH = 32
EXT_DISTANCE = "http://hl7.org/fhir/StructureDefinition/location-distance"
EXT_MATCH_REASON = "urn:socle:fhir:match-reason"
Model = type[RorOrganization] | type[RorOffer] | type[RorLocation]
MODELS: dict[str, Any] = {
    "Organization": RorOrganization,
    "HealthcareService": RorOffer,
    "Location": RorLocation,
    "PractitionerRole": RorPractitionerRole,
}
INCLUDES = {
    "Organization": {"Organization:partof"},
    "HealthcareService": {"HealthcareService:organization", "HealthcareService:location"},
    "Location": {"Location:organization"},
    "PractitionerRole": {"PractitionerRole:service", "PractitionerRole:organization"},
}
REVINCLUDES = {
    "Organization": {
        "Organization:partof",
        "HealthcareService:organization",
        "Location:organization",
        "PractitionerRole:organization",
    },
    "HealthcareService": {"PractitionerRole:service"},
    "Location": {"HealthcareService:location"},
    "PractitionerRole": set(),
}


@dataclass
class Result:
    """A page of matches (resources), their search details, the total and what they include."""

    matches: list[dict[str, Any]]
    total: int
    count: int
    offset: int
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    included: list[dict[str, Any]] = field(default_factory=list)


def render(session: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """FHIR resources of rows of one kind, their children read in one statement per kind."""
    if not rows:
        return []
    if isinstance(rows[0], RorOrganization):
        contacts = repo.organization_contacts(session, [r.id for r in rows])
        return [organization(r, contacts.get(r.id, [])) for r in rows]
    if isinstance(rows[0], RorOffer):
        places = repo.places_of(session, [r.id for r in rows])
        offer_contacts = repo.offer_contacts(session, [r.id for r in rows])
        return [
            healthcare_service(r, places.get(r.id, []), offer_contacts.get(r.id, [])) for r in rows
        ]
    if isinstance(rows[0], RorPractitionerRole):
        return [practitioner_role(r) for r in rows]
    capacities = repo.place_capacities(session, [r.id for r in rows])
    return [location(r, capacities.get(r.id, [])) for r in rows]


def read(session: Session, kind: str, resource_id: str) -> dict[str, Any]:
    """One resource by id (404 when unknown)."""
    rows = repo.by_ids(session, MODELS[kind], [resource_id])
    if not rows:
        raise NotFound(f"{kind}/{resource_id} is not in the ROR")
    return render(session, rows)[0]


def _conditions(kind: str, params: QueryParams) -> list[Any]:
    if kind == "Organization":
        return repo.organization_conditions(fhir_params.organization_criteria(params))
    if kind == "HealthcareService":
        return repo.offer_conditions(fhir_params.offer_criteria(params))
    if kind == "PractitionerRole":
        return repo.role_conditions(fhir_params.role_criteria(params))
    return repo.location_conditions(fhir_params.location_criteria(params))


def search(session: Session, kind: str, params: QueryParams) -> Result:
    """A search of one resource type, with its includes."""
    conditions = _conditions(kind, params)
    paging = fhir_params.paging(params)
    _check_includes(kind, paging)
    near = fhir_params.near(params)
    if near is not None and kind not in ("HealthcareService", "Location"):
        raise FhirBadRequest("near is a Location and HealthcareService parameter")
    if near is not None:
        result, rows = _near(session, kind, params, near, conditions, paging)
    else:
        rows, total = repo.page(
            session, MODELS[kind], conditions, limit=paging.count, offset=paging.offset
        )
        result = Result(render(session, rows), total, paging.count, paging.offset)
    result.included = _included(session, kind, rows, paging)
    return result


def _age(params: QueryParams) -> float | None:
    """The patient's age when the bounds say 'takes this age' (low ≤ A ≤ high)."""
    low, high = params.getlist("age-range-low"), params.getlist("age-range-high")
    if len(low) != 1 or len(high) != 1 or low[0][2:] != high[0][2:]:
        return None
    if not (low[0].startswith("le") and high[0].startswith("ge")):
        return None
    try:
        return float(low[0][2:])
    except ValueError:
        return None


Found = list[tuple[str, float, Any]]


def _near_found(session: Session, kind: str, params: QueryParams, near: fhir_params.Near) -> Found:
    """(resource id, distance, reasons) within the distance, nearest first."""
    if kind == "Location":
        return [
            (p.resource_id, d, None)
            for d, p in orientation.places_near(
                session, near.latitude, near.longitude, near.radius_km
            )
        ]
    criteria = fhir_params.offer_criteria(params)
    query = orientation.NearQuery(
        near.latitude,
        near.longitude,
        near.radius_km,
        activities=criteria.activities,
        champ=criteria.champs[0] if len(criteria.champs) == 1 else None,
        age=_age(params),
    )
    return [(m.row.resource_id, m.distance_km, m) for m in orientation.search_near(session, query)]


def _near(
    session: Session,
    kind: str,
    params: QueryParams,
    near: fhir_params.Near,
    conditions: list[Any],
    paging: fhir_params.Paging,
) -> tuple[Result, list[Any]]:
    """Offers (the orientation search) or places within the distance, nearest first."""
    found = _near_found(session, kind, params, near)
    if conditions:
        # The other parameters narrow what the spatial search found, in the same ranking.
        kept = repo.matching_ids(session, MODELS[kind], conditions, [f[0] for f in found])
        found = [f for f in found if f[0] in kept]
    page = found[paging.offset : paging.offset + paging.count]
    rows = {r.resource_id: r for r in repo.by_ids(session, MODELS[kind], [f[0] for f in page])}
    ordered = [rows[f[0]] for f in page if f[0] in rows]
    details = {
        rid: _details(distance, match.reasons if match is not None else ())
        for rid, distance, match in page
    }
    result = Result(render(session, ordered), len(found), paging.count, paging.offset, details)
    return result, ordered


def _details(distance: float, reasons: Sequence[str]) -> dict[str, Any]:
    extension: list[dict[str, Any]] = [
        {
            "url": EXT_DISTANCE,
            "valueDistance": {
                "value": round(distance, 3),
                "unit": "km",
                "system": "http://unitsofmeasure.org",
                "code": "km",
            },
        }
    ]
    extension += [{"url": EXT_MATCH_REASON, "valueString": r} for r in reasons]
    return {"extension": extension}


def _check_includes(kind: str, paging: fhir_params.Paging) -> None:
    for value in paging.include:
        if value not in INCLUDES[kind]:
            raise FhirBadRequest(
                f"_include on {kind} takes {', '.join(sorted(INCLUDES[kind])) or 'nothing'}",
                fields={"_include": value},
            )
    for value in paging.revinclude:
        if value not in REVINCLUDES[kind]:
            raise FhirBadRequest(
                f"_revinclude on {kind} takes {', '.join(sorted(REVINCLUDES[kind])) or 'nothing'}",
                fields={"_revinclude": value},
            )
    for value in paging.iterate:
        if value != "Organization:partof":
            raise FhirBadRequest(
                "_include:iterate takes Organization:partof", fields={"_include:iterate": value}
            )


def _forward(session: Session, rows: Sequence[Any], include: str) -> list[Any]:
    if include == "HealthcareService:organization":
        return repo.by_ids(session, RorOrganization, [r.provided_by for r in rows if r.provided_by])
    if include == "HealthcareService:location":
        places = repo.places_of(session, [r.id for r in rows])
        return repo.by_ids(session, RorLocation, [p for ps in places.values() for p in ps])
    if include == "Location:organization":
        return repo.by_ids(
            session, RorOrganization, [r.managing_org for r in rows if r.managing_org]
        )
    if include == "PractitionerRole:service":
        return repo.by_ids(session, RorOffer, [r.offer for r in rows if r.offer])
    if include == "PractitionerRole:organization":
        return repo.by_ids(
            session, RorOrganization, [r.organization for r in rows if r.organization]
        )
    return repo.by_ids(session, RorOrganization, [r.part_of for r in rows if r.part_of])


def _backward(session: Session, rows: Sequence[Any], revinclude: str) -> list[Any]:
    ids = [r.resource_id for r in rows]
    if revinclude == "HealthcareService:location":
        return repo.offers_at_places(session, ids, limit=REVINCLUDE_LIMIT)
    model, column = {
        "Organization:partof": (RorOrganization, RorOrganization.part_of),
        "HealthcareService:organization": (RorOffer, RorOffer.provided_by),
        "Location:organization": (RorLocation, RorLocation.managing_org),
        "PractitionerRole:organization": (RorPractitionerRole, RorPractitionerRole.organization),
        "PractitionerRole:service": (RorPractitionerRole, RorPractitionerRole.offer),
    }[revinclude]
    return repo.referring(session, model, column, ids, limit=REVINCLUDE_LIMIT)


def _included(
    session: Session, kind: str, rows: Sequence[Any], paging: fhir_params.Paging
) -> list[dict[str, Any]]:
    seen = {(kind, r.resource_id) for r in rows}
    groups: list[list[Any]] = []

    def add(found: list[Any]) -> list[Any]:
        fresh = [r for r in found if (_kind(r), r.resource_id) not in seen]
        seen.update((_kind(r), r.resource_id) for r in fresh)
        if fresh:
            groups.append(fresh)
        return fresh

    organizations: list[Any] = list(rows) if kind == "Organization" else []
    for include in paging.include:
        organizations += [
            r for r in add(_forward(session, rows, include)) if isinstance(r, RorOrganization)
        ]
    for revinclude in paging.revinclude:
        add(_backward(session, rows, revinclude))
    frontier = organizations
    for _ in range(MAX_DEPTH if paging.iterate else 0):
        frontier = add(_forward(session, frontier, "Organization:partof"))
        if not frontier:
            break
    return [res for group in groups for res in render(session, group)]


def _kind(row: Any) -> str:
    return {
        RorOrganization: "Organization",
        RorOffer: "HealthcareService",
        RorPractitionerRole: "PractitionerRole",
    }.get(type(row), "Location")
