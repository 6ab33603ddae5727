"""The ROR over FHIR R4 under /fhir/ror, shaped like the national ROR API.

Its own base (a tool configured for the national API points at ``<socle>/fhir/ror``):
/fhir/Organization already serves the FINESS directory, and the ROR's organisations (EJ, EG,
internal organisations) are other resources with other ids. A PractitionerRole's practitioner
is the ROR's reference, as received; Socle's /fhir/Practitioner serves the RPPS+ directory.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from referentials.core.auth import DbSession, Principal, require
from referentials.core.fhir import FhirResponse, entry, searchset
from ror_sync import fhir_search

PREFIX = "/fhir/ror"
router = APIRouter(prefix=PREFIX, tags=["fhir", "ror"], default_response_class=FhirResponse)
read_scope = require("ror:read")


def _bundle(request: Request, result: fhir_search.Result) -> dict[str, Any]:
    entries = []
    for resource in result.matches:
        extra = result.details.get(resource["id"], {})
        entries.append(_entry(request, resource, **extra))
    entries += [_entry(request, r, mode="include") for r in result.included]
    return searchset(request, entries, total=result.total, offset=result.offset, count=result.count)


def _entry(request: Request, resource: dict[str, Any], **search: Any) -> dict[str, Any]:
    # fullUrl under this base, not the server-wide /fhir.
    item = entry(request, resource, **search)
    item["fullUrl"] = (
        f"{str(request.base_url).rstrip('/')}{PREFIX}/{resource['resourceType']}/{resource['id']}"
    )
    return item


def _search(request: Request, session: Any, kind: str) -> FhirResponse:
    result = fhir_search.search(session, kind, request.query_params)
    return FhirResponse(_bundle(request, result))


@router.get("/Organization")
def search_organizations(
    *, request: Request, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """EJ, EG and internal organisations: identifier, type, partof, address-city,
    address-postalcode, commune, _lastUpdated; _include/_revinclude."""
    return _search(request, session, "Organization")


@router.get("/Organization/{resource_id}")
def read_organization(
    *, resource_id: str, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """One EJ, EG or internal organisation."""
    return FhirResponse(fhir_search.read(session, "Organization", resource_id))


@router.get("/HealthcareService")
def search_healthcare_services(
    *, request: Request, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """Offers: identifier, type (champ), specialty, category, organization, location,
    near (nearest first, explained), age-range-low/high, _lastUpdated; _include."""
    return _search(request, session, "HealthcareService")


@router.get("/HealthcareService/{resource_id}")
def read_healthcare_service(
    *, resource_id: str, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """One offer (offre opérationnelle)."""
    return FhirResponse(fhir_search.read(session, "HealthcareService", resource_id))


@router.get("/Location")
def search_locations(
    *, request: Request, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """Places: organization, address-city, address-postalcode, commune, near, _lastUpdated;
    _include/_revinclude."""
    return _search(request, session, "Location")


@router.get("/Location/{resource_id}")
def read_location(
    *, resource_id: str, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """One place."""
    return FhirResponse(fhir_search.read(session, "Location", resource_id))


@router.get("/PractitionerRole")
def search_practitioner_roles(
    *, request: Request, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """Professionals' roles in offers: identifier, practitioner, service, organization, role
    (profession, TRE_G15), _lastUpdated; _include."""
    return _search(request, session, "PractitionerRole")


@router.get("/PractitionerRole/{resource_id}")
def read_practitioner_role(
    *, resource_id: str, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """One professional's role in an offer."""
    return FhirResponse(fhir_search.read(session, "PractitionerRole", resource_id))
