"""The pair page: both identities side by side, the score explained; claim, comment, decide."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from identity.duplicates import presenter as qp
from identity.duplicates import queue
from identity.duplicates.router import decide
from identity.pages import charts
from identity.pages.common import (
    FIELD,
    LEVEL,
    Officer,
    error_text,
    helpers,
    principal_for,
    query,
)
from identity.referential import service
from identity.referential.history import ENTITY
from identity.referential.schemas import DecisionRequest, PairDetail
from referentials.core import audit
from referentials.core.auth import DbSession, Principal
from referentials.core.errors import AppError
from referentials.core.web import User, check_csrf, render

router = APIRouter()
# What the queue says after a decision (the `done` query parameter).
OUTCOME = {"merge": "merged", "not_duplicate": "not_duplicate", "defer": "deferred"}
# Traits shown side by side, in the order an officer checks them against a document: those the
# pair's differences are computed on, then the INS.
SHOWN = (*qp.COMPARED, "ins")


def _bars(detail: PairDetail) -> list[charts.Bar]:
    return [
        charts.Bar(FIELD.get(c.field, c.field), LEVEL.get(c.level, c.level), c.weight)
        for c in detail.explanation.contributions
    ]


def _pair_page(
    request: Request,
    session: Session,
    user: User,
    pair_id: int,
    *,
    error: str | None = None,
    reason: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    principal = principal_for(user)
    pair = queue.get(session, pair_id)
    left, right = service.get(session, pair.left_id), service.get(session, pair.right_id)
    audit.record_access(
        session,
        principal,
        entity_type=ENTITY,
        entity_ids=[left.id, right.id],
        purpose="identitovigilance",
    )
    detail = qp.to_detail(pair, left, right, queue.comments(session, pair_id), principal)
    differing = {d.field for d in detail.differences}
    if detail.left.ins != detail.right.ins:
        differing.add("ins")
    flagged = sorted((left.attribute_set | right.attribute_set) & {"DOUT", "FICT"})
    context = {
        **helpers(),
        "p": detail,
        "shown": SHOWN,
        "differing": differing,
        "flagged": flagged,
        "chart": charts.contribution_bars(
            f"Explication du score de la paire {pair_id}", _bars(detail)
        ),
        "open": pair.status in queue.OPEN,
        "mine": pair.claimed_by == principal.label,
        "error": error,
        # A refused decision keeps what the officer typed.
        "reason": reason,
    }
    return render(request, "identity_pair.html", context, status_code=status_code)


@router.get("/duplicates/{pair_id}", response_class=HTMLResponse)
def pair_page(
    pair_id: int, request: Request, *, session: DbSession, user: User = Officer
) -> HTMLResponse:
    """Both identities side by side, the score's explanation, the decision form."""
    return _pair_page(request, session, user, pair_id)


def _refused(
    request: Request,
    session: Session,
    user: User,
    pair_id: int,
    exc: AppError,
    reason: str = "",
) -> HTMLResponse:
    # The failed action may have half-written (a pair closed before its merge was refused):
    # roll it back here, since the request's session would otherwise commit it.
    session.rollback()
    return _pair_page(
        request,
        session,
        user,
        pair_id,
        error=error_text(exc),
        reason=reason,
        status_code=exc.status_code,
    )


@router.post("/duplicates/{pair_id}/decision", response_class=HTMLResponse)
def decide_page(
    pair_id: int,
    request: Request,
    *,
    session: DbSession,
    user: User = Officer,
    csrf: str = Form(""),
    decision: str = Form(""),
    survivor_id: int | None = Form(None),
    reason: str = Form(""),
    confirm_flagged: bool = Form(False),
) -> Response:
    """Merge, not a duplicate, or defer; back to the queue with what was done."""
    check_csrf(request, csrf)
    try:
        body = DecisionRequest(
            decision=decision,
            survivor_id=survivor_id,
            reason=reason.strip() or None,
            confirm_flagged=confirm_flagged,
        )
    except ValidationError:
        message = "Choisissez une décision ; le motif est limité à 1000 caractères."
        return _pair_page(
            request, session, user, pair_id, error=message, reason=reason, status_code=422
        )
    try:
        result = decide(session, principal_for(user), pair_id, body)
    except AppError as exc:
        return _refused(request, session, user, pair_id, exc, reason)
    target = "/ui/duplicates?" + query(
        {}, done=OUTCOME[body.decision], pair=pair_id, merge=result.merge_id
    )
    return RedirectResponse(target, status_code=303)


def _pair_action(
    request: Request,
    session: Session,
    user: User,
    pair_id: int,
    action: Callable[[Principal], object],
    anchor: str = "",
) -> Response:
    """Run a queue action for the officer; a rule's refusal is shown on the pair page."""
    try:
        action(principal_for(user))
    except AppError as exc:
        return _refused(request, session, user, pair_id, exc)
    return RedirectResponse(f"/ui/duplicates/{pair_id}{anchor}", status_code=303)


@router.post("/duplicates/{pair_id}/claim", response_class=HTMLResponse)
def claim_page(
    pair_id: int,
    request: Request,
    *,
    session: DbSession,
    user: User = Officer,
    csrf: str = Form(""),
) -> Response:
    """Reserve the pair for 30 minutes."""
    check_csrf(request, csrf)
    return _pair_action(
        request, session, user, pair_id, lambda who: queue.claim(session, who, pair_id)
    )


@router.post("/duplicates/{pair_id}/release", response_class=HTMLResponse)
def release_page(
    pair_id: int,
    request: Request,
    *,
    session: DbSession,
    user: User = Officer,
    csrf: str = Form(""),
) -> Response:
    """Give the pair back to the queue."""
    check_csrf(request, csrf)
    return _pair_action(
        request, session, user, pair_id, lambda who: queue.release(session, who, pair_id)
    )


@router.post("/duplicates/{pair_id}/comments", response_class=HTMLResponse)
def comment_page(
    pair_id: int,
    request: Request,
    *,
    session: DbSession,
    user: User = Officer,
    csrf: str = Form(""),
    text: str = Form(""),
) -> Response:
    """Add a comment to the pair."""
    check_csrf(request, csrf)
    text = text.strip()
    if not text or len(text) > 2000:
        message = "Le commentaire doit contenir entre 1 et 2000 caractères."
        return _pair_page(request, session, user, pair_id, error=message, status_code=422)
    return _pair_action(
        request,
        session,
        user,
        pair_id,
        lambda who: queue.comment(session, who, pair_id, text),
        anchor="#commentaires",
    )
