"""INS qualification routes: traits search, front-desk creation, Carte Vitale, call history."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVarTuple, Unpack

from fastapi import APIRouter, Depends, Request, Response, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from identity.insi import creation
from identity.insi import service as insi
from identity.insi.port import InsiPort
from identity.insi.service import QualificationResult
from identity.insi.waits import InsiWaits
from identity.insi.window import read_for_call
from identity.referential import presenter
from identity.referential.models import InsiCall
from identity.referential.schemas import (
    CarteVitaleRequest,
    IdentityCreate,
    InsiCallRead,
    QualificationRead,
)
from referentials.core.auth import DbSession, Principal, require
from referentials.core.db import commit_now

Args = TypeVarTuple("Args")

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


def _waits(request: Request) -> InsiWaits:
    waits: InsiWaits = request.app.state.insi_waits
    return waits


def _answered(
    session: Session,
    principal: Principal,
    apply: Callable[[Session, Principal, Unpack[Args]], QualificationResult],
    *args: *Args,
) -> QualificationRead:
    """Apply an INSi answer and commit at once, in the request thread that wrote it."""
    result = apply(session, principal, *args)
    commit_now(session)
    return _read(result, principal)


# The INSi routes are coroutines so that the wait for INSi happens in the INSi threads
# (`InsiWaits`), not in a request thread: reading before the call and applying the answer
# after it run in request threads, each in a short transaction of its own.


@router.post("/insi-create", response_model=QualificationRead)
async def insi_create(
    body: IdentityCreate,
    request: Request,
    response: Response,
    *,
    session: DbSession,
    principal: Principal = Depends(write_scope),
) -> QualificationRead:
    """Front desk: INSi with the typed traits; a coherent CR 00 makes (or finds) the identity."""
    fields = await run_in_threadpool(creation.typed_fields, session, body)
    search = await _waits(request).run(creation.search_typed, _port(request), fields)
    read = await run_in_threadpool(
        _answered, session, principal, creation.apply_typed, body, fields, search
    )
    if read.outcome == "applied":
        response.status_code = status.HTTP_201_CREATED
    return read


@router.post("/{identity_id}/insi-search", response_model=QualificationRead)
async def insi_search(
    identity_id: int,
    request: Request,
    *,
    session: DbSession,
    principal: Principal = Depends(write_scope),
) -> QualificationRead:
    """Search the INS by traits; a coherent CR 00 moves PROV→RECUP or VALI→QUAL."""
    sent = await run_in_threadpool(read_for_call, session, identity_id)
    search = await _waits(request).run(insi.search_traits, _port(request), sent)
    return await run_in_threadpool(_answered, session, principal, insi.apply_search, sent, search)


@router.post("/{identity_id}/insi-vitale", response_model=QualificationRead)
async def insi_vitale(
    identity_id: int,
    body: CarteVitaleRequest,
    request: Request,
    *,
    session: DbSession,
    principal: Principal = Depends(write_scope),
) -> QualificationRead:
    """Search the INS with the Carte Vitale's matricule (collection method CV)."""
    sent = await run_in_threadpool(read_for_call, session, identity_id)
    answer = await _waits(request).run(
        insi.search_vitale, _port(request), sent, body.matricule, body.birth_rank
    )
    return await run_in_threadpool(_answered, session, principal, insi.apply_vitale, sent, answer)


@router.get("/{identity_id}/insi-calls", response_model=list[InsiCallRead])
def insi_calls(
    identity_id: int, *, session: DbSession, principal: Principal = Depends(read_scope)
) -> list[InsiCallRead]:
    """Every INSi call made for this identity: who, when, which CR."""
    return [call_read(c, principal) for c in insi.calls_of(session, identity_id)]
