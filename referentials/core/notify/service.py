"""Subscriptions: create, read, change, delete; secret rotation, replay and redelivery."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from referentials.core import audit
from referentials.core.db import utcnow
from referentials.core.errors import NotFound, ValidationFailed
from referentials.core.finess import is_finess
from referentials.core.notify import audience, registry, repository
from referentials.core.notify.channels import ChannelConfigError
from referentials.core.notify.models import Delivery, Subscription
from referentials.core.notify.schemas import SubscriptionCreate, SubscriptionUpdate
from referentials.core.principal import Principal
from referentials.core.settings import NotifySettings, get_settings

ENTITY = "notify_subscription"
SECRET_PREFIX = "whsec_"


def _defaults() -> NotifySettings:
    return get_settings().notify


def new_secret() -> str:
    """A 256-bit signing secret."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _check_types(channel_name: str, event_types: list[str]) -> list[str]:
    known = registry.event_types()
    unknown = [t for t in event_types if t not in known]
    if unknown:
        raise ValidationFailed(
            f"unknown event type(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            fields={"event_types": unknown},
        )
    channel = registry.channel(channel_name)
    unsupported = [t for t in event_types if not channel.supports(t)]
    if unsupported:
        raise ValidationFailed(
            f"channel {channel_name!r} cannot carry: {', '.join(unsupported)}",
            fields={"event_types": unsupported},
        )
    return sorted(set(event_types))


def _check_config(channel_name: str, config: dict[str, Any]) -> dict[str, Any]:
    try:
        return registry.channel(channel_name).validate(config)
    except ChannelConfigError as exc:
        raise ValidationFailed(
            f"invalid {channel_name} config: {exc.field_name}: {exc.message}",
            fields={exc.field_name: exc.message},
        ) from exc


def _check_finess(values: list[str]) -> list[str]:
    bad = [v for v in values if not is_finess(v)]
    if bad:
        raise ValidationFailed(
            f"establishments are 9-character FINESS numbers: {', '.join(bad)}",
            fields={"establishments": bad},
        )
    return sorted(set(values))


def _state(sub: Subscription) -> dict[str, Any]:
    return {
        "client_name": sub.client_name,
        "channel": sub.channel,
        "config": sub.config,
        "event_types": sub.event_types,
        "establishments": sub.establishments,
        "skip_changes_by": sub.skip_changes_by,
        "status": sub.status,
        "max_attempts": sub.max_attempts,
        "concurrency": sub.concurrency,
        "timeout_seconds": sub.timeout_seconds,
    }


def create(
    session: Session, principal: Principal, *, data: SubscriptionCreate
) -> tuple[Subscription, str]:
    """Create a subscription; returns it with its signing secret."""
    defaults = _defaults()
    sub = Subscription(
        client_name=data.client_name,
        description=data.description,
        channel=data.channel,
        config=_check_config(data.channel, data.config),
        event_types=_check_types(data.channel, data.event_types),
        establishments=_check_finess(data.establishments),
        skip_changes_by=audience.check_skipped(session, data.skip_changes_by),
        status=data.status,
        secret=new_secret(),
        max_attempts=data.max_attempts or defaults.max_attempts,
        concurrency=data.concurrency or defaults.concurrency,
        timeout_seconds=data.timeout_seconds or defaults.timeout_seconds,
        created_by=principal.label,
    )
    # Checked last: the other fields' errors come first, whoever the client is.
    audience.check(session, sub.client_name, sub.event_types, sub.establishments)
    session.add(sub)
    session.flush()
    # A new subscription hears of what happens from now on; a replay reaches further back.
    repository.start_cursors(session, sub.id, registry.sources().values())
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=sub.id,
        action="create",
        after=_state(sub),
    )
    return sub, sub.secret


def get(session: Session, subscription_id: int) -> Subscription:
    """One subscription, or NotFound."""
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFound(f"no subscription {subscription_id}", fields={"id": subscription_id})
    return sub


def list_(session: Session, *, client_name: str | None = None) -> list[Subscription]:
    """Every subscription (of one client when given), oldest first."""
    return repository.subscriptions(session, client_name=client_name)


def update(
    session: Session, principal: Principal, subscription_id: int, *, data: SubscriptionUpdate
) -> Subscription:
    """Change a subscription (only the fields given)."""
    sub = get(session, subscription_id)
    before = _state(sub)
    given = data.model_dump(exclude_unset=True)
    if data.config is not None:
        sub.config = _check_config(sub.channel, data.config)
    if data.event_types is not None:
        sub.event_types = _check_types(sub.channel, data.event_types)
    if data.establishments is not None:
        sub.establishments = _check_finess(data.establishments)
    if data.skip_changes_by is not None:
        sub.skip_changes_by = audience.check_skipped(session, data.skip_changes_by)
    if data.event_types is not None or data.establishments is not None:
        audience.check(session, sub.client_name, sub.event_types, sub.establishments)
    for name in ("description", "status", "max_attempts", "concurrency", "timeout_seconds"):
        if given.get(name) is not None:
            setattr(sub, name, given[name])
    sub.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=sub.id,
        action="update",
        before=before,
        after=_state(sub),
    )
    return sub


def delete(session: Session, principal: Principal, subscription_id: int) -> None:
    """Delete a subscription with its queue."""
    sub = get(session, subscription_id)
    before = _state(sub)
    repository.delete_subscription(session, sub.id)
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=subscription_id,
        action="delete",
        before=before,
    )


def rotate_secret(
    session: Session, principal: Principal, subscription_id: int
) -> tuple[str, datetime]:
    """A new secret; the previous one stays valid for the overlap (both sign meanwhile)."""
    sub = get(session, subscription_id)
    until = utcnow() + timedelta(hours=_defaults().secret_overlap_hours)
    sub.previous_secret, sub.previous_secret_until = sub.secret, until
    sub.secret = new_secret()
    sub.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=sub.id,
        action="rotate_secret",
        reason=f"previous secret valid until {until.isoformat()}",
    )
    return sub.secret, until


def secrets_of(sub: Subscription, now: datetime) -> tuple[str, ...]:
    """The secrets that sign now: the current one, and the previous one during its overlap."""
    if sub.previous_secret and sub.previous_secret_until and sub.previous_secret_until > now:
        return (sub.secret, sub.previous_secret)
    return (sub.secret,)


def replay(
    session: Session,
    principal: Principal,
    subscription_id: int,
    *,
    source: str,
    from_cursor: int | None = None,
    from_date: datetime | None = None,
) -> int:
    """Queue again every event after a cursor (or since a date); the cursor replayed from."""
    sub = get(session, subscription_id)
    found = registry.sources().get(source)
    if found is None:
        known = ", ".join(sorted(registry.sources()))
        raise ValidationFailed(
            f"unknown source {source!r}; known: {known}", fields={"source": source}
        )
    if (from_cursor is None) == (from_date is None):
        raise ValidationFailed(
            "give one of from_cursor or from_date", fields={"from_cursor": from_cursor}
        )
    cursor = from_cursor if from_cursor is not None else found.cursor_before(session, from_date)  # type: ignore[arg-type]
    repository.rewind(session, sub.id, source, cursor)
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=sub.id,
        action="replay",
        reason=f"{source} after cursor {cursor}",
    )
    return cursor


def redeliver(
    session: Session, principal: Principal, subscription_id: int, delivery_id: int
) -> Delivery:
    """Send one delivery again (dead or delivered), with the same idempotency key."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise NotFound(
            f"no delivery {delivery_id} for subscription {subscription_id}",
            fields={"delivery_id": delivery_id},
        )
    repository.requeue(session, delivery)
    audit.record(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=subscription_id,
        action="redeliver",
        reason=f"delivery {delivery_id} ({delivery.source}-{delivery.cursor})",
    )
    return delivery
