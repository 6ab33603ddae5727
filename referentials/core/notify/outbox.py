"""Directory and ROR changes as events: an outbox written in the change's transaction.

One event per import run (``directory.imported``, ``ror.imported``) with its counts: a run can
change hundreds of thousands of rows, and a consumer that cares re-reads what changed through
the API. Like the identity feed (identity/referential/feed.py), writers append rows without a
cursor, and a relay gives committed rows the next cursors in one short serialised transaction,
so the feed read by cursor is ordered and gap-free; the delivery worker runs the relay before
each read (it is the only reader).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.orm import Session

from referentials.core.cursor_relay import CursorRelay
from referentials.core.db import utcnow
from referentials.core.notify.models import ChangeEvent
from referentials.core.notify.sources import Audience, SourceEvent

SOURCE = "changes"
# Scope a client needs to hear of each kind of change.
SCOPE_OF = {"directory": "directory:read", "ror": "ror:read"}
EVENT_TYPES = ("directory.imported", "ror.imported")
RELAY_LOCK = 7_311_003

_RELAY = CursorRelay("change_events", RELAY_LOCK)


def emit_change(session: Session, event_type: str, subject: str, **payload: Any) -> None:
    """Append a change event in the transaction of the change (its cursor comes later)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown change event type {event_type!r}")
    session.add(ChangeEvent(type=event_type, subject=subject, payload=payload))


# The import sources whose runs are announced, and as what.
RUN_EVENTS = {"rpps": "directory.imported", "finess": "directory.imported", "ror": "ror.imported"}


def _counts(counts: Any) -> dict[str, Any]:
    # Figures only (numbers, and groups of numbers): names of files and the like stay in the run.
    def figure(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    return {
        k: v
        for k, v in dict(counts).items()
        if figure(v) or (isinstance(v, dict) and v and all(figure(x) for x in v.values()))
    }


def emit_run(session: Session | Connection, *, run_id: int, source: str, counts: Any) -> None:
    """Announce a successful import run, in the transaction that records its end."""
    event_type = RUN_EVENTS.get(source)
    if event_type is None:
        return
    payload: dict[str, Any] = {"source": source, "run_id": run_id, "counts": _counts(counts)}
    session.execute(
        insert(ChangeEvent).values(type=event_type, subject=source, payload=payload, at=utcnow())
    )


def relay_now(engine: Engine) -> int:
    """Give committed change events their cursors, in their own transaction."""
    return _RELAY.relay_now(engine)


class ChangeSource:
    """The change outbox as an event source for subscriptions."""

    name: str = SOURCE
    event_types: tuple[str, ...] = EVENT_TYPES

    def read(self, session: Session, after: int, limit: int) -> list[SourceEvent]:
        rows = session.scalars(
            select(ChangeEvent)
            .where(ChangeEvent.feed_cursor > after)
            .order_by(ChangeEvent.feed_cursor)
            .limit(limit)
        )
        return [
            SourceEvent(
                source=SOURCE,
                cursor=int(r.feed_cursor or 0),
                type=r.type,
                subjects=(f"{SOURCE}:{r.subject}",),
                at=r.at,
                payload=r.payload,
            )
            for r in rows
        ]

    def head(self, session: Session) -> int:
        return int(session.scalar(select(func.max(ChangeEvent.feed_cursor))) or 0)

    def cursor_before(self, session: Session, when: datetime) -> int:
        first = session.scalar(
            select(func.min(ChangeEvent.feed_cursor)).where(ChangeEvent.at >= when)
        )
        return self.head(session) if first is None else int(first) - 1

    def visible(
        self, session: Session, audience: Audience, events: Sequence[SourceEvent]
    ) -> list[bool]:
        return [audience.has(_scope_of(e.type)) for e in events]

    def unheard(self, audience: Audience, event_type: str) -> tuple[str, str] | None:
        scope = _scope_of(event_type)
        return None if audience.has(scope) else ("event_types", f"have no {scope}")


def _scope_of(event_type: str) -> str:
    return SCOPE_OF.get(event_type.split(".")[0], "admin")
