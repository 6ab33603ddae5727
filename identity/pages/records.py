"""The identity page, the merge history (with undo) and the indicators page."""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from identity.duplicates import merges
from identity.duplicates import presenter as qp
from identity.insi import service as insi
from identity.pages import charts, indicators
from identity.pages.common import (
    BAND,
    DONE,
    IDENTITY_STATUS,
    Officer,
    error_text,
    helpers,
    principal_for,
)
from identity.referential import presenter, service
from identity.referential.history import ENTITY
from referentials.core import audit
from referentials.core.auth import DbSession
from referentials.core.errors import AppError
from referentials.core.web import User, check_csrf, render

router = APIRouter()
PAGE_SIZE = 25


@router.get("/identities/{identity_id}", response_class=HTMLResponse)
def identity_page(
    identity_id: int, request: Request, *, session: DbSession, user: User = Officer
) -> HTMLResponse:
    """One identity: traits, status, INS, local ids, its audit trail and its INSi calls."""
    principal = principal_for(user)
    identity = service.get(session, identity_id)
    # Officers' reads are recorded like API reads (the purpose: identity vigilance).
    audit.record_access(
        session,
        principal,
        entity_type=ENTITY,
        entity_ids=[identity_id],
        purpose="identitovigilance",
    )
    trail = [presenter.to_history(e, principal) for e in service.history(session, identity_id)]
    context = {
        **helpers(),
        "i": presenter.to_read(identity, principal),
        # Matricules taken over in merges or deactivated: officers see every INS.
        "ins_old": identity.ins_old or [],
        "history": list(reversed(trail)),
        "insi_calls": list(reversed(insi.calls_of(session, identity_id))),
    }
    return render(request, "identity_detail.html", context)


def _merges_page(
    request: Request,
    session: Session,
    *,
    page: int,
    done: str = "",
    merge: int | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    page = max(page, 1)
    rows, total = merges.list_merges(session, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    context = {
        **helpers(),
        "rows": [qp.to_merge(m) for m in rows],
        "total": total,
        "page": page,
        "has_next": page * PAGE_SIZE < total,
        "done": DONE.get(done),
        "done_merge": merge,
        "error": error,
    }
    return render(request, "identity_merges.html", context, status_code=status_code)


@router.get("/merges", response_class=HTMLResponse)
def merges_page(
    request: Request,
    *,
    session: DbSession,
    user: User = Officer,
    page: int = 1,
    done: str = "",
    merge: int | None = None,
) -> HTMLResponse:
    """Merges, newest first, each with its undo form while it stands."""
    return _merges_page(request, session, page=page, done=done, merge=merge)


@router.post("/merges/{merge_id}/undo", response_class=HTMLResponse)
def undo_page(
    merge_id: int,
    request: Request,
    *,
    session: DbSession,
    user: User = Officer,
    csrf: str = Form(""),
    reason: str = Form(""),
) -> Response:
    """Undo a merge: the loser comes back as it was, with its local ids."""
    check_csrf(request, csrf)
    try:
        merges.undo(session, principal_for(user), merge_id, reason=reason.strip()[:1000] or None)
    except AppError as exc:
        session.rollback()
        return _merges_page(
            request, session, page=1, error=error_text(exc), status_code=exc.status_code
        )
    return RedirectResponse(f"/ui/merges?done=undone&merge={merge_id}", status_code=303)


def _precisions(figures: indicators.Indicators, band: str) -> list[float]:
    values = (w.bands[band].precision for w in figures.decisions)
    return [round(100 * p, 1) if p is not None else 0.0 for p in values]


@router.get("/indicators", response_class=HTMLResponse)
def indicators_page(request: Request, *, session: DbSession, user: User = Officer) -> HTMLResponse:
    """Identities by status, share qualified, the queue's load, merges and undos per week, and
    the precision per band observed in the decisions."""
    figures = indicators.compute(session)
    status_items = [(IDENTITY_STATUS.get(s, s), float(n)) for s, n in figures.by_status.items()]
    band_items = [(BAND[b], float(n)) for b, n in figures.pending_by_band.items()]
    weeks = [w.start.strftime("%d/%m") for w in figures.weeks]
    context = {
        **helpers(),
        "fig": figures,
        "status_chart": charts.hbar_chart("Identités actives par statut", status_items),
        "share_chart": charts.hbar_chart(
            "Part des identités qualifiées",
            [("Qualifiées", figures.qualified_share)],
            colour=charts.FOR,
            maximum=100.0,
            suffix=" %",
        ),
        "band_chart": charts.hbar_chart(
            "Paires en attente par niveau", band_items, colour=charts.AGAINST
        ),
        "week_chart": charts.column_chart(
            "Fusions et annulations par semaine (12 dernières semaines)",
            weeks,
            [
                charts.Series("Fusions", [w.merges for w in figures.weeks], charts.NEUTRAL),
                charts.Series("Annulations", [w.undos for w in figures.weeks], charts.AGAINST),
            ],
        ),
        "BANDS_SHOWN": indicators.BANDS,
        "precision_chart": charts.column_chart(
            "Précision observée par niveau, en % des paires décidées (semaines sans décision : 0)",
            weeks,
            [
                charts.Series(BAND[b], _precisions(figures, b), colour)
                for b, colour in zip(indicators.BANDS, (charts.FOR, charts.NEUTRAL), strict=True)
            ],
        ),
    }
    return render(request, "identity_indicators.html", context)
