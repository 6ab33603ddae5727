"""FHIR R4 routes of the actor directory under /fhir: Practitioner, PractitionerRole and
Organization read and search, shaped like the national Annuaire Santé API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from referentials.core.auth import DbSession, Principal, require
from referentials.core.errors import NotFound
from referentials.core.fhir import (
    FhirBadRequest,
    FhirResponse,
    entry,
    parse_count,
    parse_offset,
    parse_token,
    searchset,
)
from referentials.directory import fhir_organization as fo
from referentials.directory import fhir_resources as fr
from referentials.directory import service
from referentials.directory.errors import StructureNotFound
from referentials.directory.repository import ProfessionalQuery, StructureQuery
from referentials.directory.schemas import ProfessionalRead

router = APIRouter(prefix="/fhir", tags=["fhir"], default_response_class=FhirResponse)
read_scope = require("directory:read")
# Roles are found through their professionals, read in chunks of this size.
CHUNK = 200


def _identifier(raw: str | None, systems: dict[str, str]) -> str | None:
    """The directory key a ``system|value`` names; '' when the system is not one we serve."""
    if raw is None:
        return None
    system, value = parse_token(raw, "identifier")
    if system is None:
        return value
    if system not in systems:
        return ""
    prefix = systems[system]
    return value[len(prefix) :] if prefix and value.startswith(prefix) else value


def _reference(raw: str | None, resource: str) -> str | None:
    if raw is None:
        return None
    return raw.split("/", 1)[1] if raw.startswith(f"{resource}/") else raw


def _role_system(request: Request) -> str:
    """The system of Socle's activity ids (the RPPS+ extract gives an activity none)."""
    return f"{request.app.state.settings.base_url.rstrip('/')}/fhir/sid/situation-exercice"


def _page(request: Request) -> tuple[int, int]:
    params = request.query_params
    return parse_count(params.get("_count")), parse_offset(params.get("_offset"))


@router.get("/Practitioner")
def search_practitioners(
    *, request: Request, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """Search by identifier (IDNPS or RPPS), family, given, role (profession code)."""
    params = request.query_params
    systems = {fr.SYSTEM_IDNPS: "", fr.SYSTEM_RPPS: ""}
    key = _identifier(params.get("identifier"), systems)
    count, offset = _page(request)
    if key == "":
        return FhirResponse(searchset(request, [], total=0, offset=offset, count=count))
    query = ProfessionalQuery(
        idnps=key,
        name=params.get("family") or params.get("name"),
        first_name=params.get("given"),
        profession=params.get("role"),
    )
    rows, total = service.list_professionals(session, query=query, limit=count, offset=offset)
    entries = [entry(request, fr.practitioner(p)) for p in rows]
    return FhirResponse(searchset(request, entries, total=total, offset=offset, count=count))


@router.get("/Practitioner/{practitioner_id}")
def read_practitioner(
    *, practitioner_id: str, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """One Practitioner by IDNPS."""
    return FhirResponse(fr.practitioner(service.get_professional(session, practitioner_id)))


def _all_professionals(session: DbSession, query: ProfessionalQuery) -> list[ProfessionalRead]:
    found: list[ProfessionalRead] = []
    while True:
        rows, total = service.list_professionals(
            session, query=query, limit=CHUNK, offset=len(found)
        )
        found.extend(rows)
        if not rows or len(found) >= total:
            return found


def _roles(
    professionals: list[ProfessionalRead],
    organization: str | None,
    role: str | None,
    id_system: str,
) -> list[dict[str, Any]]:
    out = []
    for p in professionals:
        for index, activity in enumerate(p.activities, start=1):
            if organization and activity.finess_site != organization:
                continue
            if role and activity.profession_code != role:
                continue
            out.append(fr.practitioner_role(p, index, id_system))
    return out


@router.get("/PractitionerRole")
def search_roles(
    *, request: Request, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """Search by practitioner, organization (FINESS), role (profession), specialty."""
    params = request.query_params
    practitioner = _reference(params.get("practitioner"), "Practitioner")
    organization = _reference(params.get("organization"), "Organization")
    role, specialty = params.get("role"), params.get("specialty")
    if not any((practitioner, organization, role, specialty)):
        raise FhirBadRequest(
            "give practitioner, organization, role or specialty to search roles", fields={}
        )
    query = ProfessionalQuery(
        idnps=practitioner, finess_site=organization, profession=role, skill=specialty
    )
    roles = _roles(_all_professionals(session, query), organization, role, _role_system(request))
    count, offset = _page(request)
    entries = [entry(request, r) for r in roles[offset : offset + count]]
    return FhirResponse(searchset(request, entries, total=len(roles), offset=offset, count=count))


@router.get("/PractitionerRole/{role_id}")
def read_role(
    *,
    role_id: str,
    request: Request,
    session: DbSession,
    _principal: Principal = Depends(read_scope),
) -> FhirResponse:
    """One PractitionerRole: ``<IDNPS>-<rank of the activity>``."""
    idnps, _, rank = role_id.rpartition("-")
    if not idnps or not rank.isdigit():
        raise NotFound(f"PractitionerRole/{role_id} is not known")
    professional = service.get_professional(session, idnps)
    if not 1 <= int(rank) <= len(professional.activities):
        raise NotFound(f"PractitionerRole/{role_id} is not known")
    return FhirResponse(fr.practitioner_role(professional, int(rank), _role_system(request)))


@router.get("/Organization")
def search_organizations(
    *, request: Request, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """Search by identifier (IDNST or FINESS), name (prefix), type (FINESS category)."""
    params = request.query_params
    systems = {fr.SYSTEM_IDNST: "1", fr.SYSTEM_FINESS: ""}
    key = _identifier(params.get("identifier"), systems)
    count, offset = _page(request)
    if key == "":
        return FhirResponse(searchset(request, [], total=0, offset=offset, count=count))
    query = StructureQuery(finess=key, name=params.get("name"), category=params.get("type"))
    rows, total = service.list_structures(session, query=query, limit=count, offset=offset)
    entries = [entry(request, fo.organization(s)) for s in rows]
    return FhirResponse(searchset(request, entries, total=total, offset=offset, count=count))


@router.get("/Organization/{organization_id}")
def read_organization(
    *, organization_id: str, session: DbSession, _principal: Principal = Depends(read_scope)
) -> FhirResponse:
    """One Organization by FINESS: a site (EG), or a legal entity (EJ) its sites name."""
    try:
        return FhirResponse(fo.organization(service.get_structure(session, organization_id)))
    except StructureNotFound:
        return FhirResponse(fo.legal_entity(service.get_legal_entity(session, organization_id)))
