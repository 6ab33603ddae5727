"""The delivery queue's queries: queue events, pick what may be sent, record outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from referentials.core.notify.models import Delivery, Subscription
from referentials.core.notify.sources import SourceEvent

# The table, not the ORM entity, for the bulk insert of a burst.
DELIVERIES = cast(Table, Delivery.__table__)


def queue(
    session: Session, subscription_id: int, events: Sequence[SourceEvent], now: datetime
) -> int:
    """Queue events for a subscription; one queued before (a replay) is made pending again."""
    if not events:
        return 0
    source = events[0].source
    existing = set(
        session.scalars(
            select(Delivery.cursor).where(
                Delivery.subscription_id == subscription_id,
                Delivery.source == source,
                Delivery.cursor.in_([e.cursor for e in events]),
            )
        )
    )
    if existing:
        session.execute(
            update(Delivery)
            .where(
                Delivery.subscription_id == subscription_id,
                Delivery.source == source,
                Delivery.cursor.in_(existing),
            )
            .values(status="pending", failures=0, next_attempt_at=now, delivered_at=None)
        )
    fresh = [
        {
            "subscription_id": subscription_id,
            "source": e.source,
            "cursor": e.cursor,
            "event_type": e.type,
            "subjects": " ".join(e.subjects),
            "payload": dict(e.payload),
            "event_at": e.at,
            "status": "pending",
            "attempts": 0,
            "failures": 0,
            "next_attempt_at": now,
            "queued_at": now,
        }
        for e in events
        if e.cursor not in existing
    ]
    if fresh:
        # The table, not the ORM entity: a burst queues thousands of rows per second.
        session.execute(insert(DELIVERIES), fresh)
    return len(events)


def pick(
    session: Session, subscription_id: int, now: datetime, limit: int, *, any_time: bool = False
) -> list[Delivery]:
    """Up to ``limit`` deliveries that may go now, none sharing an ordering key with an
    earlier pending one (so each identity's events go one after the other, in cursor order)."""
    window = max(limit * 8, 256)
    while True:
        rows = session.execute(
            select(Delivery.id, Delivery.subjects, Delivery.next_attempt_at)
            .where(Delivery.subscription_id == subscription_id, Delivery.status == "pending")
            .order_by(Delivery.cursor)
            .limit(window)
        ).all()
        blocked: set[str] = set()
        chosen: list[int] = []
        for delivery_id, subjects, next_at in rows:
            keys = subjects.split()
            free = blocked.isdisjoint(keys)
            blocked.update(keys)
            if free and (any_time or next_at <= now):
                chosen.append(delivery_id)
                if len(chosen) >= limit:
                    break
        # A window full of blocked keys (one identity in backoff): look further, within reason.
        if chosen or len(rows) < window or window >= 20_000:
            break
        window *= 4
    if not chosen:
        return []
    return list(
        session.scalars(select(Delivery).where(Delivery.id.in_(chosen)).order_by(Delivery.cursor))
    )


def next_due(session: Session, subscription_id: int) -> datetime | None:
    return session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.subscription_id == subscription_id, Delivery.status == "pending"
        )
    )


def make_all_due(session: Session, subscription_id: int, now: datetime) -> None:
    """The subscriber is back: what waited for a retry may go now."""
    session.execute(
        update(Delivery)
        .where(
            Delivery.subscription_id == subscription_id,
            Delivery.status == "pending",
            Delivery.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )


def counts(session: Session, subscription_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.subscription_id == subscription_id)
        .group_by(Delivery.status)
    )
    return {status: int(n) for status, n in rows}


def oldest_pending(session: Session) -> dict[int, datetime]:
    """For each subscription, when its oldest pending event happened."""
    rows = session.execute(
        select(Delivery.subscription_id, func.min(Delivery.event_at))
        .where(Delivery.status == "pending")
        .group_by(Delivery.subscription_id)
    )
    return {int(s): at for s, at in rows if at is not None}


def pending_counts(session: Session) -> dict[tuple[int, str], int]:
    rows = session.execute(
        select(Delivery.subscription_id, Delivery.status, func.count())
        .where(Delivery.status != "delivered")
        .group_by(Delivery.subscription_id, Delivery.status)
    )
    return {(int(s), st): int(n) for s, st, n in rows}


def active_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Subscription.id).order_by(Subscription.id)))
