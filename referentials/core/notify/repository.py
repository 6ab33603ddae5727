"""The notification tables' queries (the only place with ``select()`` for them)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from referentials.core.auth import ApiKey
from referentials.core.db import utcnow
from referentials.core.notify.models import Delivery, Subscription, SubscriptionCursor
from referentials.core.notify.sources import EventSource


def subscriptions(session: Session, *, client_name: str | None = None) -> list[Subscription]:
    stmt = select(Subscription).order_by(Subscription.id)
    if client_name is not None:
        stmt = stmt.where(Subscription.client_name == client_name)
    return list(session.scalars(stmt))


def start_cursors(session: Session, subscription_id: int, sources: Iterable[EventSource]) -> None:
    """Start a new subscription at the head of every source."""
    for source in sources:
        session.add(
            SubscriptionCursor(
                subscription_id=subscription_id, source=source.name, cursor=source.head(session)
            )
        )
    session.flush()


def cursors(session: Session, subscription_id: int) -> dict[str, int]:
    rows = session.execute(
        select(SubscriptionCursor.source, SubscriptionCursor.cursor).where(
            SubscriptionCursor.subscription_id == subscription_id
        )
    )
    return {source: int(cursor) for source, cursor in rows}


def rewind(session: Session, subscription_id: int, source: str, cursor: int) -> None:
    """Move a subscription's cursor back (or forward) in a source: the fan-out reads from there."""
    found = session.get(SubscriptionCursor, (subscription_id, source))
    if found is None:
        session.add(
            SubscriptionCursor(subscription_id=subscription_id, source=source, cursor=cursor)
        )
    else:
        found.cursor = cursor
    session.flush()


def requeue(session: Session, delivery: Delivery) -> None:
    """Make a delivery due now, its failures forgotten (its key stays the same)."""
    delivery.status = "pending"
    delivery.failures = 0
    delivery.next_attempt_at = utcnow()
    delivery.delivered_at = None
    session.flush()


def delete_subscription(session: Session, subscription_id: int) -> None:
    # Explicit deletes: SQLite enforces no ON DELETE CASCADE without the foreign-key pragma.
    session.execute(delete(Delivery).where(Delivery.subscription_id == subscription_id))
    session.execute(
        delete(SubscriptionCursor).where(SubscriptionCursor.subscription_id == subscription_id)
    )
    session.execute(delete(Subscription).where(Subscription.id == subscription_id))
    session.flush()


def touch(session: Session, subscription_id: int) -> None:
    session.execute(
        update(Subscription).where(Subscription.id == subscription_id).values(updated_at=utcnow())
    )


def clients(
    session: Session, names: set[str], at: datetime | None = None
) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """For each client, the scopes and FINESS of its keys valid at ``at`` (default: now; none:
    it hears nothing)."""
    found: dict[str, tuple[set[str], set[str]]] = {n: (set(), set()) for n in names}
    now = at or utcnow()
    rows = session.execute(
        select(ApiKey.client_name, ApiKey.scopes, ApiKey.finess, ApiKey.expires_at).where(
            ApiKey.client_name.in_(names), ApiKey.revoked.is_(False)
        )
    )
    for name, scopes, finess, expires_at in rows:
        if expires_at is not None and expires_at <= now:
            continue
        found[name][0].update(s for s in scopes.split(",") if s)
        if finess:
            found[name][1].add(finess)
    return {n: (frozenset(s), frozenset(f)) for n, (s, f) in found.items()}


def key_clients(session: Session, names: set[str]) -> set[str]:
    """Those of ``names`` that are the client of at least one key (revoked ones included)."""
    if not names:
        return set()
    rows = session.scalars(select(ApiKey.client_name).where(ApiKey.client_name.in_(names)))
    return set(rows)


def all_cursors(session: Session) -> dict[tuple[int, str], int]:
    rows = session.execute(
        select(
            SubscriptionCursor.subscription_id, SubscriptionCursor.source, SubscriptionCursor.cursor
        )
    )
    return {(sub, source): int(cursor) for sub, source, cursor in rows}


def advance(session: Session, subscription_id: int, source: str, old: int, new: int) -> bool:
    """Move a cursor forward unless it was moved meanwhile (a replay): whether it moved."""
    moved = session.execute(
        update(SubscriptionCursor)
        .where(
            SubscriptionCursor.subscription_id == subscription_id,
            SubscriptionCursor.source == source,
            SubscriptionCursor.cursor == old,
        )
        .values(cursor=new)
    )
    return bool(getattr(moved, "rowcount", 0))
