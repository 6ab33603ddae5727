"""The event feed that coordination tools follow: GET /api/v1/events."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

from identity.referential import repository
from identity.referential.schemas import EventRead
from referentials.core import metrics
from referentials.core.auth import DbSession, Principal
from referentials.core.caller import Caller, caller
from referentials.core.db import commit_now

router = APIRouter(prefix="/api/v1/events", tags=["events"])
read_caller = caller("identity:read")


class EventPage(BaseModel):
    items: list[EventRead]
    next_cursor: int


@router.get("", response_model=EventPage)
async def list_events(
    *,
    after: int = Query(0, ge=0, description="the cursor of the last event already read"),
    limit: int = Query(100, ge=1, le=1000),
    session: DbSession,
    caller: Caller = Depends(read_caller),
) -> EventPage:
    """Events after a cursor, oldest first; pass `next_cursor` back as `after`."""
    # Every tool polls it: the key is checked in the thread that reads (one trip).
    return await caller.run(session, _events, after, limit)


def _events(session: Session, principal: Principal, after: int, limit: int) -> EventPage:
    metrics.record_feed_cursor(principal.client_name, after)
    events = repository.events_after(session, after, limit)
    items = [
        EventRead(
            cursor=int(e.feed_cursor or 0),
            type=e.type,
            identity_id=e.identity_id,
            at=e.at,
            payload=e.payload,
            own=e.origin == principal.client_name,
        )
        for e in events
    ]
    commit_now(session)  # ends the read here: the session's end then takes no trip
    return EventPage(items=items, next_cursor=items[-1].cursor if items else after)
