"""INS qualification routes: traits search, front-desk creation, Carte Vitale, call history."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy.orm import Session

from identity.insi import creation
from identity.insi import service as insi
from identity.insi.port import InsiPort
from identity.insi.service import QualificationResult
from identity.insi.waits import waits_of
from identity.referential import presenter
from identity.referential.models import InsiCall
from identity.referential.schemas import (
    CarteVitaleRequest,
    IdentityCreate,
    InsiCallRead,
    QualificationRead,
)
from referentials.core.auth import DbSession, Principal, require
from referentials.core.caller import Caller, caller
from referentials.core.db import commit_now

router = APIRouter(prefix="/api/v1/identities", tags=["INS qualification"])
write_caller = caller("identity:write")
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


def _committed(
    result: QualificationResult, session: Session, principal: Principal
) -> QualificationRead:
    """Commit the answer's writes at once, in the thread that made them, then shape the answer."""
    commit_now(session)
    return _read(result, principal)


# Each INSi route is a coroutine that hands the whole search to one INSi thread (`InsiWaits`):
# check the caller's key (`Caller`), read what is sent in a short transaction that ends before
# the call, call INSi with nothing held, apply the answer in a new short transaction. One trip
# from the event loop and back, the key's lookup included; a search that waits for an INSi
# place holds no thread and no connection.


def _typed_search(
    session: Session, principal: Principal, port: InsiPort, body: IdentityCreate
) -> QualificationRead:
    result = creation.create_from_insi(session, principal, body, port)
    return _committed(result, session, principal)


def _traits_search(
    session: Session, principal: Principal, port: InsiPort, identity_id: int
) -> QualificationRead:
    result = insi.qualify(session, principal, identity_id, port)
    return _committed(result, session, principal)


def _vitale_search(
    session: Session,
    principal: Principal,
    port: InsiPort,
    identity_id: int,
    body: CarteVitaleRequest,
) -> QualificationRead:
    result = insi.qualify_by_carte_vitale(
        session,
        principal,
        identity_id,
        port,
        matricule=body.matricule,
        birth_rank=body.birth_rank,
    )
    return _committed(result, session, principal)


@router.post("/insi-create", response_model=QualificationRead)
async def insi_create(
    body: IdentityCreate,
    request: Request,
    response: Response,
    *,
    session: DbSession,
    caller: Caller = Depends(write_caller),
) -> QualificationRead:
    """Front desk: INSi with the typed traits; a coherent CR 00 makes (or finds) the identity."""
    search = caller.bound(session, _typed_search)
    read = await waits_of(request).run(search, _port(request), body)
    if read.outcome == "applied":
        response.status_code = status.HTTP_201_CREATED
    return read


@router.post("/{identity_id}/insi-search", response_model=QualificationRead)
async def insi_search(
    identity_id: int,
    request: Request,
    *,
    session: DbSession,
    caller: Caller = Depends(write_caller),
) -> QualificationRead:
    """Search the INS by traits; a coherent CR 00 moves PROV→RECUP or VALI→QUAL."""
    search = caller.bound(session, _traits_search)
    return await waits_of(request).run(search, _port(request), identity_id)


@router.post("/{identity_id}/insi-vitale", response_model=QualificationRead)
async def insi_vitale(
    identity_id: int,
    body: CarteVitaleRequest,
    request: Request,
    *,
    session: DbSession,
    caller: Caller = Depends(write_caller),
) -> QualificationRead:
    """Search the INS with the Carte Vitale's matricule (collection method CV)."""
    search = caller.bound(session, _vitale_search)
    return await waits_of(request).run(search, _port(request), identity_id, body)


@router.get("/{identity_id}/insi-calls", response_model=list[InsiCallRead])
def insi_calls(
    identity_id: int, *, session: DbSession, principal: Principal = Depends(read_scope)
) -> list[InsiCallRead]:
    """Every INSi call made for this identity: who, when, which CR."""
    return [call_read(c, principal) for c in insi.calls_of(session, identity_id)]
