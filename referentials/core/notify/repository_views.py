"""Read views of the queue for the API, the page and the metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from referentials.core.db import utcnow
from referentials.core.notify import repository_queue as queue
from referentials.core.notify.models import Delivery, Subscription
from referentials.core.notify.schemas import DeliveryPage, DeliveryRead


def delivery_read(d: Delivery, now: datetime) -> DeliveryRead:
    until = d.delivered_at or now
    return DeliveryRead(
        id=d.id,
        event_id=f"{d.source}-{d.cursor}",
        event_type=d.event_type,
        cursor=d.cursor,
        subjects=d.subjects.split(),
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
        last_error=d.last_error,
        last_status_code=d.last_status_code,
        last_answer=d.last_answer,
        event_at=d.event_at,
        queued_at=d.queued_at,
        delivered_at=d.delivered_at,
        lag_seconds=round(max((until - d.event_at).total_seconds(), 0.0), 3),
    )


def lag_seconds(session: Session, subscription_id: int, now: datetime) -> float:
    """Seconds since the oldest event still waiting for this subscription (0: none)."""
    oldest = session.scalar(
        select(func.min(Delivery.event_at)).where(
            Delivery.subscription_id == subscription_id, Delivery.status == "pending"
        )
    )
    return 0.0 if oldest is None else round(max((now - oldest).total_seconds(), 0.0), 3)


def delivery_page(
    session: Session, subscription_id: int, *, status: str | None, before: int | None, limit: int
) -> DeliveryPage:
    now = utcnow()
    stmt = select(Delivery).where(Delivery.subscription_id == subscription_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    if before:
        stmt = stmt.where(Delivery.id < before)
    rows = list(session.scalars(stmt.order_by(Delivery.id.desc()).limit(limit)))
    counts = queue.counts(session, subscription_id)
    return DeliveryPage(
        items=[delivery_read(d, now) for d in rows],
        pending=counts.get("pending", 0),
        dead=counts.get("dead", 0),
        lag_seconds=lag_seconds(session, subscription_id, now),
        next_before=rows[-1].id if len(rows) == limit else None,
    )


@dataclass(frozen=True)
class SubscriberFigures:
    subscription: Subscription
    pending: int
    dead: int
    lag_seconds: float


def figures(session: Session) -> list[SubscriberFigures]:
    """Every subscription with its queue: pending, dead letters, lag (page and metrics)."""
    now = utcnow()
    subs = list(session.scalars(select(Subscription).order_by(Subscription.id)))
    counts = queue.pending_counts(session)
    oldest = queue.oldest_pending(session)
    return [
        SubscriberFigures(
            subscription=s,
            pending=counts.get((s.id, "pending"), 0),
            dead=counts.get((s.id, "dead"), 0),
            lag_seconds=max((now - oldest[s.id]).total_seconds(), 0.0) if s.id in oldest else 0.0,
        )
        for s in subs
    ]


def dead_letters(session: Session, *, limit: int = 200) -> list[Delivery]:
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.status == "dead")
            .order_by(Delivery.id.desc())
            .limit(limit)
        )
    )
