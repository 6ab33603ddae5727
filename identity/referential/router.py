"""HTTP routes of the identity referential under /api/v1/identities."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sqlalchemy.orm import Session

from identity.duplicates import service as duplicates
from identity.insi import service as insi
from identity.insi.waits import waits_of
from identity.referential import links, local_ids, presenter, service
from identity.referential.history import ENTITY
from identity.referential.schemas import (
    AttributeRequest,
    CandidateRead,
    HistoryEntry,
    IdentityCreate,
    IdentityRead,
    IdentityUpdate,
    IdentityWriteResult,
    LocalIdLink,
    LocalIdRequest,
    MatchRequest,
    StatusChange,
    ValidationRequest,
)
from referentials.core import audit
from referentials.core.auth import DbSession, Principal, require
from referentials.core.caller import Caller, caller
from referentials.core.db import commit_now
from referentials.core.errors import (
    PreconditionRequired,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    ValidationFailed,
)
from referentials.core.pagination import Page, PageParams, page_params

router = APIRouter(prefix="/api/v1/identities", tags=["identities"])

# The hot reads (one identity, the match) are asynchronous routes that do all their database
# work, the commit included, in one trip to a worker thread: a synchronous route costs three
# (the route, the validation of its answer, the session's commit), and under load each trip
# waits for the interpreter's lock that the other threads hold.

read_scope = require("identity:read")
write_scope = require("identity:write")
read_caller = caller("identity:read")
match_caller = caller("identity:read", matching=True)
write_caller = caller("identity:write")
# A creation scores its candidates as a match does, then takes the one writer's turn on SQLite:
# in the matching threads, the writer's turn is not held while the interpreter's lock passes
# among a dozen scoring threads (README, "Creations in the matching threads").
create_caller = caller("identity:write", matching=True)


def _if_match(if_match: str | None) -> int:
    if if_match is None:
        raise PreconditionRequired(
            "send If-Match: <version> with the version you read", fields={"If-Match": None}
        )
    try:
        return int(if_match.strip().strip("W/").strip('"'))
    except ValueError as exc:
        raise ValidationFailed(
            "If-Match must be the identity's version number", fields={"If-Match": if_match}
        ) from exc


def _seen(
    session: DbSession,
    principal: Principal,
    ids: list[int],
    purpose: str | None,
    action: str = "read",
) -> None:
    audit.record_access(
        session, principal, entity_type=ENTITY, entity_ids=ids, action=action, purpose=purpose
    )


@router.post("", response_model=IdentityWriteResult, status_code=status.HTTP_201_CREATED)
async def create_identity(
    *,
    body: IdentityCreate,
    response: Response,
    session: DbSession,
    caller: Caller = Depends(create_caller),
) -> IdentityWriteResult:
    """Create a provisional identity (idempotent on `source`)."""
    return await caller.run(session, _create, body, response)


def _create(
    session: Session, principal: Principal, body: IdentityCreate, response: Response
) -> IdentityWriteResult:
    outcome = service.create(session, principal, data=body)
    commit_now(session)
    if not outcome.created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/api/v1/identities/{outcome.identity.id}"
    return presenter.to_write_result(
        outcome.identity, principal, created=outcome.created, duplicates=outcome.duplicates
    )


@router.post("/match", response_model=list[CandidateRead])
async def match_identity(
    body: MatchRequest,
    *,
    purpose: audit.Purpose = None,
    session: DbSession,
    caller: Caller = Depends(match_caller),
) -> list[CandidateRead]:
    """Search before creating: ranked likely matches with score, band and explanation."""
    return await caller.run(session, _match, body, purpose)


def _match(
    session: Session, principal: Principal, body: MatchRequest, purpose: str | None
) -> list[CandidateRead]:
    found = duplicates.match_rows(session, body, body.limit)
    _seen(session, principal, [c.identity.id for c in found], purpose, "search")
    answer = [presenter.to_candidate(c, principal) for c in found]
    commit_now(session)  # the access record is stored before the answer leaves
    return answer


@router.get("", response_model=Page[IdentityRead])
def list_identities(
    *,
    source_finess: str | None = Query(None, description="FINESS of the establishment"),
    local_id: str | None = Query(None, description="the establishment's local id (IPP)"),
    birth_name: str | None = Query(None, max_length=100),
    first_name: str | None = Query(None, max_length=100),
    birth_date: date | None = Query(None),
    include_inactive: bool = Query(False),
    page: PageParams = Depends(page_params),
    purpose: audit.Purpose = None,
    session: DbSession,
    principal: Principal = Depends(read_scope),
) -> Page[IdentityRead]:
    """Look up by local id, or search on normalised traits."""
    if local_id is not None:
        if not source_finess:
            raise ValidationFailed(
                "local_id needs source_finess", fields={"source_finess": "missing"}
            )
        identity = service.get_by_source(session, finess=source_finess, local_id=local_id)
        _seen(session, principal, [identity.id], purpose, "search")
        return Page(items=[presenter.to_read(identity, principal)], total=1, limit=1, offset=0)
    if not any([birth_name, first_name, birth_date, source_finess]):
        raise ValidationFailed(
            "give local_id with source_finess, or at least one trait to search on",
            fields={"query": "empty"},
        )
    rows, total = service.search(
        session,
        birth_name=birth_name,
        first_name=first_name,
        birth_date=birth_date,
        source_finess=source_finess,
        include_inactive=include_inactive,
        limit=page.limit,
        offset=page.offset,
    )
    _seen(session, principal, [i.id for i in rows], purpose, "search")
    items = [presenter.to_read(i, principal) for i in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/{identity_id}", response_model=IdentityRead)
async def read_identity(
    *,
    identity_id: int,
    response: Response,
    purpose: audit.Purpose = None,
    session: DbSession,
    caller: Caller = Depends(read_caller),
) -> IdentityRead:
    """One identity; a merged one says where it went (`merged_into`). The read is recorded."""
    return await caller.run(session, _read, identity_id, response, purpose)


def _read(
    session: Session,
    principal: Principal,
    identity_id: int,
    response: Response,
    purpose: str | None,
) -> IdentityRead:
    identity = service.get(session, identity_id)
    _seen(session, principal, [identity.id], purpose)
    response.headers["ETag"] = str(identity.version)
    answer = presenter.to_read(identity, principal)
    commit_now(session)  # the access record is stored before the answer leaves
    return answer


@router.patch("/{identity_id}", response_model=IdentityWriteResult)
async def update_identity(
    *,
    identity_id: int,
    body: IdentityUpdate,
    request: Request,
    if_match: str | None = Header(None, alias="If-Match"),
    session: DbSession,
    caller: Caller = Depends(write_caller),
) -> IdentityWriteResult:
    """Change traits (If-Match required); a strict-trait change clears the document check
    unless `document_type` gives the document the new traits were checked on."""
    if body.document_type is not None:
        # New strict traits with their document are sent to INSi after the commit: the whole
        # update waits in an INSi thread, never in a request thread (identity/insi/waits.py).
        work = caller.bound(session, _update)
        return await waits_of(request).run(work, identity_id, body, request, if_match)
    return await caller.run(session, _update, identity_id, body, request, if_match)


def _update(
    session: Session,
    principal: Principal,
    identity_id: int,
    body: IdentityUpdate,
    request: Request,
    if_match: str | None,
) -> IdentityWriteResult:
    outcome = service.update(
        session, principal, identity_id, data=body, expected_version=_if_match(if_match)
    )
    commit_now(session)
    check = _insi_check(session, principal, request, outcome) if outcome.recheck_insi else None
    result = presenter.to_write_result(
        outcome.identity, principal, change=outcome.status_change, duplicates=outcome.duplicates
    )
    result.insi_check = check
    return result


def _insi_check(
    session: DbSession, principal: Principal, request: Request, outcome: service.WriteOutcome
) -> str:
    """INSi again for traits just checked on a document: VALI -> QUAL when coherent.

    The change is committed first (``commit_now``), so no transaction is open during the INSi
    call; a failed call leaves the identity VALI, to be searched again later.
    """
    try:
        found = insi.qualify(session, principal, outcome.identity.id, request.app.state.insi)
    except (UpstreamUnavailable, UpstreamTimeout, UpstreamError):
        session.rollback()
        return "unavailable"
    if found.status_change is not None and outcome.status_change is not None:
        outcome.status_change = StatusChange(
            before=outcome.status_change.before,
            after=found.status_change.after,
            reason=f"{outcome.status_change.reason}; {found.status_change.reason}",
        )
    return found.outcome


@router.post("/{identity_id}/validation", response_model=IdentityWriteResult)
def validate_identity(
    *,
    identity_id: int,
    body: ValidationRequest,
    session: DbSession,
    principal: Principal = Depends(write_scope),
) -> IdentityWriteResult:
    """Record a check against a high-trust identity document."""
    identity, change = service.validate(session, principal, identity_id, data=body)
    return presenter.to_write_result(identity, principal, change=change)


@router.post("/{identity_id}/local-ids", response_model=IdentityWriteResult)
def attach_local_id(
    *,
    identity_id: int,
    body: LocalIdRequest,
    response: Response,
    session: DbSession,
    principal: Principal = Depends(write_scope),
) -> IdentityWriteResult:
    """Attach an establishment's local id (201; 200 when already attached; 409 when taken)."""
    identity, attached = local_ids.attach_by_request(session, principal, identity_id, data=body)
    response.status_code = status.HTTP_201_CREATED if attached else status.HTTP_200_OK
    return presenter.to_write_result(identity, principal)


@router.post("/{identity_id}/attributes", response_model=IdentityWriteResult)
def add_attribute(
    *,
    identity_id: int,
    body: AttributeRequest,
    session: DbSession,
    principal: Principal = Depends(write_scope),
) -> IdentityWriteResult:
    """Set an attribute (HOMA, DOUT, FICT) within the combination rules."""
    identity, change = service.add_attribute(session, principal, identity_id, data=body)
    return presenter.to_write_result(identity, principal, change=change)


@router.delete("/{identity_id}/attributes/{code}", response_model=IdentityWriteResult)
def remove_attribute(
    *,
    identity_id: int,
    code: str,
    session: DbSession,
    principal: Principal = Depends(write_scope),
) -> IdentityWriteResult:
    """Remove an attribute."""
    identity = service.remove_attribute(session, principal, identity_id, code=code)
    return presenter.to_write_result(identity, principal)


@router.get("/{identity_id}/links", response_model=list[LocalIdLink])
def identity_links(
    *,
    identity_id: int,
    purpose: audit.Purpose = None,
    session: DbSession,
    principal: Principal = Depends(read_scope),
) -> list[LocalIdLink]:
    """The links establishments made between this identity's local ids and others (HL7 A24):
    one patient under two local ids, which Socle did not merge. The read is recorded."""
    found = links.links_of(session, identity_id)
    _seen(session, principal, [identity_id], purpose)
    return found


@router.get("/{identity_id}/history", response_model=list[HistoryEntry])
def identity_history(
    *,
    identity_id: int,
    purpose: audit.Purpose = None,
    session: DbSession,
    principal: Principal = Depends(read_scope),
) -> list[HistoryEntry]:
    """Who changed what on this identity, when and why."""
    entries = service.history(session, identity_id)
    _seen(session, principal, [identity_id], purpose)
    return [presenter.to_history(e, principal) for e in entries]
