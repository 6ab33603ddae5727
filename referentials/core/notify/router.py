"""Subscriptions API (scope admin): CRUD, deliveries, replay, redelivery, secret rotation."""

from __future__ import annotations

from datetime import UTC

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.orm import Session

from referentials.core.auth import DbSession, Principal, require
from referentials.core.db import utcnow
from referentials.core.notify import audience, repository_views, service
from referentials.core.notify.models import Subscription
from referentials.core.notify.schemas import (
    DeliveryPage,
    DeliveryRead,
    ReplayRequest,
    ReplayResult,
    SecretRotated,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
    SubscriptionUpdate,
)

router = APIRouter(prefix="/api/v1/subscriptions", tags=["notifications"])
admin = require("admin")


def read(sub: Subscription, silent: str | None) -> SubscriptionRead:
    data = SubscriptionRead.model_validate(sub)
    until = sub.previous_secret_until
    rotating = until if until and until > utcnow() else None
    return data.model_copy(update={"secret_rotating_until": rotating, "silent": silent})


def read_all(session: Session, subs: list[Subscription]) -> list[SubscriptionRead]:
    silent = audience.silences(session, subs)
    return [read(s, silent[s.id]) for s in subs]


@router.post("", response_model=SubscriptionCreated, status_code=status.HTTP_201_CREATED)
def create_subscription(
    data: SubscriptionCreate, *, session: DbSession, principal: Principal = Depends(admin)
) -> SubscriptionCreated:
    """Subscribe a client to events; the answer carries the signing secret (shown once)."""
    sub, secret = service.create(session, principal, data=data)
    return SubscriptionCreated(**read_all(session, [sub])[0].model_dump(), secret=secret)


@router.get("", response_model=list[SubscriptionRead])
def list_subscriptions(
    *,
    client_name: str | None = Query(None),
    session: DbSession,
    principal: Principal = Depends(admin),
) -> list[SubscriptionRead]:
    """Every subscription (of one client when given)."""
    return read_all(session, service.list_(session, client_name=client_name))


@router.get("/{subscription_id}", response_model=SubscriptionRead)
def get_subscription(
    subscription_id: int, *, session: DbSession, principal: Principal = Depends(admin)
) -> SubscriptionRead:
    """One subscription."""
    return read_all(session, [service.get(session, subscription_id)])[0]


@router.patch("/{subscription_id}", response_model=SubscriptionRead)
def update_subscription(
    subscription_id: int,
    data: SubscriptionUpdate,
    *,
    session: DbSession,
    principal: Principal = Depends(admin),
) -> SubscriptionRead:
    """Change a subscription (only the fields sent)."""
    return read_all(session, [service.update(session, principal, subscription_id, data=data)])[0]


@router.delete("/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_subscription(
    subscription_id: int, *, session: DbSession, principal: Principal = Depends(admin)
) -> Response:
    """Delete a subscription and its queue."""
    service.delete(session, principal, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{subscription_id}/rotate-secret", response_model=SecretRotated)
def rotate_secret(
    subscription_id: int, *, session: DbSession, principal: Principal = Depends(admin)
) -> SecretRotated:
    """A new signing secret; the previous one keeps signing too until `previous_valid_until`."""
    secret, until = service.rotate_secret(session, principal, subscription_id)
    return SecretRotated(secret=secret, previous_valid_until=until)


@router.get("/{subscription_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(
    subscription_id: int,
    *,
    status_: str | None = Query(None, alias="status", pattern="^(pending|delivered|dead)$"),
    before: int | None = Query(None, ge=1, description="the next_before of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
    session: DbSession,
    principal: Principal = Depends(admin),
) -> DeliveryPage:
    """Deliveries, newest first: status, attempts, last error and answer, lag."""
    service.get(session, subscription_id)
    return repository_views.delivery_page(
        session, subscription_id, status=status_, before=before, limit=limit
    )


@router.post("/{subscription_id}/replay", response_model=ReplayResult)
def replay(
    subscription_id: int,
    data: ReplayRequest,
    *,
    session: DbSession,
    principal: Principal = Depends(admin),
) -> ReplayResult:
    """Send again every event after a cursor, or since a date (same idempotency keys)."""
    when = data.from_date
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    cursor = service.replay(
        session,
        principal,
        subscription_id,
        source=data.source,
        from_cursor=data.from_cursor,
        from_date=when,
    )
    return ReplayResult(source=data.source, cursor=cursor)


@router.post("/{subscription_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryRead)
def redeliver(
    subscription_id: int,
    delivery_id: int,
    *,
    session: DbSession,
    principal: Principal = Depends(admin),
) -> DeliveryRead:
    """Queue one delivery again, now (same idempotency key)."""
    delivery = service.redeliver(session, principal, subscription_id, delivery_id)
    return repository_views.delivery_read(delivery, utcnow())
