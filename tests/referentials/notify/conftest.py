"""Notification test fixtures: the wiring, receivers, subscriptions and events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from identity.referential import service as identities
from identity.referential.schemas import IdentityCreate
from referentials import notify_wiring
from referentials.core.auth import SYSTEM, create_api_key
from referentials.core.db import session_scope
from referentials.core.notify import service
from referentials.core.notify.schemas import SubscriptionCreate
from referentials.core.settings import NotifySettings, Settings
from tests.factories import identity_body
from tests.referentials.notify.receiver import Receiver

# Quick retries and breaker so that the tests see them happen.
FAST = NotifySettings(
    embedded=False,
    backoff_base_seconds=0.05,
    backoff_max_seconds=0.2,
    breaker_threshold=3,
    breaker_cooldown_seconds=0.3,
    poll_seconds=0.05,
    max_attempts=4,
)


@pytest.fixture()
def wired(db_settings: Settings) -> None:
    notify_wiring.install(db_settings)


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.down()


def subscribe(
    factory: sessionmaker[Session], url: str, *, client: str = "hub", **kw: Any
) -> tuple[int, str]:
    """A webhook subscription for a client (given a key with identity:merge unless it has one)."""
    with session_scope(factory) as session:
        if kw.pop("key", True):
            create_api_key(session, client_name=client, scopes=["identity:read", "identity:merge"])
        data = SubscriptionCreate(
            client_name=client,
            channel="webhook",
            config={"url": url},
            event_types=kw.pop(
                "event_types", ["identity.created", "identity.updated", "identity.merged"]
            ),
            **kw,
        )
        sub, secret = service.create(session, SYSTEM, data=data)
        return sub.id, secret


def create_identity(factory: sessionmaker[Session], **overrides: Any) -> int:
    with session_scope(factory) as session:
        out = identities.create(session, SYSTEM, data=IdentityCreate(**identity_body(**overrides)))
        return out.identity.id
