"""The admin page of notifications: subscribers with their lag, dead letters to redeliver."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from referentials.core.auth import DbSession
from referentials.core.errors import AppError
from referentials.core.notify import audience, repository_views, service
from referentials.core.principal import SCOPES, Principal
from referentials.core.web import User, check_csrf, render, require_user

router = APIRouter(prefix="/ui", include_in_schema=False)
admin_user = require_user("admin")
MAX_DEAD_LISTED = 200


def principal_for(user: User) -> Principal:
    """The audit identity of a logged-in admin."""
    return Principal(
        key_id=None, client_name=f"user:{user.username}", finess=None, scopes=frozenset(SCOPES)
    )


@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(
    request: Request,
    session: DbSession,
    done: int | None = Query(None),
    user: User = Depends(admin_user),
) -> Response:
    """Every subscriber: channel, pending, dead letters, lag; the dead letters, newest first."""
    return render(request, "notifications.html", {**_lists(session), "user": user, "done": done})


def _lists(session: Session) -> dict[str, Any]:
    subscribers = repository_views.figures(session)
    return {
        "subscribers": subscribers,
        # Those that hear nothing now of a type they ask for, and why (their client's keys).
        "silent": audience.silences(session, [f.subscription for f in subscribers]),
        "dead": repository_views.dead_letters(session, limit=MAX_DEAD_LISTED),
        "max_dead": MAX_DEAD_LISTED,
    }


@router.post("/notifications/deliveries/{delivery_id}/redeliver", response_class=HTMLResponse)
def redeliver_page(
    delivery_id: int,
    request: Request,
    *,
    session: DbSession,
    subscription_id: int = Form(...),
    csrf: str = Form(""),
    user: User = Depends(admin_user),
) -> Response:
    """Queue a dead letter again (same idempotency key), back to the list."""
    check_csrf(request, csrf)
    try:
        service.redeliver(session, principal_for(user), subscription_id, delivery_id)
    except AppError as exc:
        return render(
            request,
            "notifications.html",
            {**_lists(session), "user": user, "error": exc.message},
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/ui/notifications?done={delivery_id}", status_code=303)
