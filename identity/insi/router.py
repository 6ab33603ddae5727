"""INS qualification routes: traits search, front-desk creation, Carte Vitale, call history."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from identity.insi import creation
from identity.insi import service as insi
from identity.insi.port import InsiPort
from identity.insi.service import QualificationResult
from identity.referential import presenter
from identity.referential.models import InsiCall
from identity.referential.schemas import (
    CarteVitaleRequest,
    IdentityCreate,
    InsiCallRead,
    QualificationRead,
)
from referentials.core.auth import DbSession, Principal, require

router = APIRouter(prefix="/api/v1/identities", tags=["INS qualification"])
write_scope = require("identity:write")
read_scope = require("identity:read")


def _port(request: Request) -> InsiPort:
    port: InsiPort = request.app.state.insi
    return port


def call_read(call: InsiCall, principal: Principal) -> InsiCallRead:
    # Raw messages carry the matricule: only identity-vigilance staff see them.
    raw = presenter.sees_ins(principal)
    return InsiCallRead(
        id=call.id,
        at=call.at,
        actor=call.actor,
        operation=call.operation,
        given_name_sent=call.given_name_sent,
        cr_code=call.cr_code,
        cr_label=call.cr_label,
        outcome=call.outcome,
        protocol_warnings=call.protocol_warnings or [],
        request_xml=call.request_xml if raw else None,
        response_xml=call.response_xml if raw else None,
    )


def _read(result: QualificationResult, principal: Principal) -> QualificationRead:
    return QualificationRead(
        cr_code=result.cr_code,
        cr_label=result.cr_label,
        outcome=result.outcome,
        identity=presenter.to_read(result.identity, principal) if result.identity else None,
        status_change=result.status_change,
        differences=result.differences,
        matched_given_name=result.matched_given_name,
        ins_key_valid=result.ins_key_valid,
        calls=[call_read(c, principal) for c in result.calls],
    )


@router.post("/insi-create", response_model=QualificationRead)
def insi_create(
    body: IdentityCreate,
    request: Request,
    response: Response,
    *,
    session: DbSession,
    principal: Principal = Depends(write_scope),
) -> QualificationRead:
    """Front desk: INSi with the typed traits; a coherent CR 00 makes (or finds) the identity."""
    result = creation.create_from_insi(session, principal, body, _port(request))
    if result.outcome == "applied":
        response.status_code = status.HTTP_201_CREATED
    return _read(result, principal)


@router.post("/{identity_id}/insi-search", response_model=QualificationRead)
def insi_search(
    identity_id: int,
    request: Request,
    *,
    session: DbSession,
    principal: Principal = Depends(write_scope),
) -> QualificationRead:
    """Search the INS by traits; a coherent CR 00 moves PROV→RECUP or VALI→QUAL."""
    return _read(insi.qualify(session, principal, identity_id, _port(request)), principal)


@router.post("/{identity_id}/insi-vitale", response_model=QualificationRead)
def insi_vitale(
    identity_id: int,
    body: CarteVitaleRequest,
    request: Request,
    *,
    session: DbSession,
    principal: Principal = Depends(write_scope),
) -> QualificationRead:
    """Search the INS with the Carte Vitale's matricule (collection method CV)."""
    result = insi.qualify_by_carte_vitale(
        session,
        principal,
        identity_id,
        _port(request),
        matricule=body.matricule,
        birth_rank=body.birth_rank,
    )
    return _read(result, principal)


@router.get("/{identity_id}/insi-calls", response_model=list[InsiCallRead])
def insi_calls(
    identity_id: int, *, session: DbSession, principal: Principal = Depends(read_scope)
) -> list[InsiCallRead]:
    """Every INSi call made for this identity: who, when, which CR."""
    return [call_read(c, principal) for c in insi.calls_of(session, identity_id)]
