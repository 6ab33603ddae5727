"""The event feed that coordination tools follow: GET /api/v1/events."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from identity.referential import repository
from identity.referential.schemas import EventRead
from referentials.core import metrics
from referentials.core.auth import DbSession, Principal, require

router = APIRouter(prefix="/api/v1/events", tags=["events"])


class EventPage(BaseModel):
    items: list[EventRead]
    next_cursor: int


@router.get("", response_model=EventPage)
def list_events(
    *,
    after: int = Query(0, ge=0, description="the cursor of the last event already read"),
    limit: int = Query(100, ge=1, le=1000),
    session: DbSession,
    principal: Principal = Depends(require("identity:read")),
) -> EventPage:
    """Events after a cursor, oldest first; pass `next_cursor` back as `after`."""
    metrics.record_feed_cursor(principal.client_name, after)
    events = repository.events_after(session, after, limit)
    items = [
        EventRead(
            cursor=int(e.feed_cursor or 0),
            type=e.type,
            identity_id=e.identity_id,
            at=e.at,
            payload=e.payload,
        )
        for e in events
    ]
    return EventPage(items=items, next_cursor=items[-1].cursor if items else after)
