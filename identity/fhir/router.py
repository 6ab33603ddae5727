"""FHIR R4 Patient routes under /fhir: read, PDQm search, $match, PIXm $ihe-pix."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from sqlalchemy.orm import Session

from identity.errors import IdentityNotFound
from identity.fhir import match, pix, repository, search
from identity.fhir.patient import to_patient
from identity.fhir.systems import EXT_MATCH_GRADE, LocalIdSystems
from identity.referential import service
from identity.referential.history import ENTITY
from identity.referential.models import Identity
from referentials.core import audit
from referentials.core.auth import DbSession, Principal
from referentials.core.caller import Caller, caller
from referentials.core.db import commit_now
from referentials.core.fhir import (
    FhirResponse,
    base_url,
    entry,
    parse_count,
    parse_offset,
    searchset,
)

router = APIRouter(prefix="/fhir", tags=["fhir"], default_response_class=FhirResponse)
# Hot routes: the key is checked in the thread that does the work (one trip: `caller.Caller`).
read_caller = caller("identity:read")
match_caller = caller("identity:read", matching=True)


def local_systems(request: Request) -> LocalIdSystems:
    return LocalIdSystems.from_settings(request.app.state.settings)


def _patients(
    session: DbSession, identities: list[Identity], local: LocalIdSystems
) -> list[dict[str, Any]]:
    links = repository.patient_links(session, [i.id for i in identities])
    return [to_patient(i, local, links_to=links.get(i.id, [])) for i in identities]


def _seen(
    session: DbSession, principal: Principal, request: Request, ids: list[int], action: str
) -> None:
    # FHIR reads are recorded like REST ones, with the declared purpose of use when sent.
    audit.record_access(
        session,
        principal,
        entity_type=ENTITY,
        entity_ids=ids,
        action=action,
        purpose=request.headers.get(audit.PURPOSE_HEADER),
    )


@router.get("/Patient")
async def search_patients(
    *, request: Request, session: DbSession, caller: Caller = Depends(read_caller)
) -> FhirResponse:
    """PDQm search; needs a discriminating criterion (identifier, _id, family, given, birthdate)."""
    return await caller.run(session, _search, request)


def _search(session: Session, principal: Principal, request: Request) -> FhirResponse:
    local = local_systems(request)
    query = search.parse(request.query_params, local)
    count = parse_count(request.query_params.get("_count"))
    offset = parse_offset(request.query_params.get("_offset"))
    search.check_depth(offset, count)
    rows, total = repository.search(session, query, limit=count, offset=offset)
    _seen(session, principal, request, [i.id for i in rows], "search")
    entries = [entry(request, p) for p in _patients(session, rows, local)]
    commit_now(session)  # the access record is stored before the answer leaves
    return FhirResponse(searchset(request, entries, total=total, offset=offset, count=count))


@router.post("/Patient/$match")
async def match_patients(
    *,
    request: Request,
    parameters: dict[str, Any] = Body(..., media_type="application/fhir+json"),
    session: DbSession,
    caller: Caller = Depends(match_caller),
) -> FhirResponse:
    """$match: likely identities of a Patient, with search.score and the match-grade."""
    return await caller.run(session, _match, request, parameters)


def _match(
    session: Session, principal: Principal, request: Request, parameters: dict[str, Any]
) -> FhirResponse:
    given = match.parse(parameters)
    ranked = match.run(session, given)
    _seen(session, principal, request, [r.identity.id for r in ranked], "search")
    local = local_systems(request)
    patients = _patients(session, [r.identity for r in ranked], local)
    entries = [
        entry(
            request,
            patient,
            score=round(r.score, 6),
            extension=[{"url": EXT_MATCH_GRADE, "valueCode": r.grade}],
        )
        for patient, r in zip(patients, ranked, strict=True)
    ]
    commit_now(session)
    return FhirResponse(
        searchset(request, entries, total=len(entries), offset=0, count=given.count)
    )


@router.get("/Patient/$ihe-pix")
async def pix_query(
    *,
    request: Request,
    source_identifier: str = Query(..., alias="sourceIdentifier"),
    target_system: list[str] = Query([], alias="targetSystem"),
    session: DbSession,
    caller: Caller = Depends(read_caller),
) -> FhirResponse:
    """PIXm: the patient's other identifiers (local ids, the INS when qualified)."""
    return await caller.run(session, _pix, request, source_identifier, target_system)


def _pix(
    session: Session,
    principal: Principal,
    request: Request,
    source_identifier: str,
    target_system: list[str],
) -> FhirResponse:
    local = local_systems(request)
    identity = pix.resolve(session, source_identifier, local)
    _seen(session, principal, request, [identity.id], "read")
    commit_now(session)
    return FhirResponse(
        pix.answer(identity, source_identifier, target_system, local, base_url(request))
    )


@router.get("/Patient/{patient_id}")
async def read_patient(
    *, patient_id: str, request: Request, session: DbSession, caller: Caller = Depends(read_caller)
) -> FhirResponse:
    """One Patient; a merged one is inactive with a replaced-by link. The read is recorded."""
    return await caller.run(session, _read, patient_id, request)


def _read(
    session: Session, principal: Principal, patient_id: str, request: Request
) -> FhirResponse:
    if not patient_id.isdigit():
        raise IdentityNotFound(f"Patient/{patient_id} is not known")
    identity = service.get(session, int(patient_id))
    _seen(session, principal, request, [identity.id], "read")
    patient = _patients(session, [identity], local_systems(request))[0]
    headers = {"ETag": f'W/"{identity.version}"'}
    commit_now(session)
    return FhirResponse(patient, headers=headers)
