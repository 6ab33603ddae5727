"""Notification metrics on /metrics: delivered and failed counts, pending, dead letters, lag,
silence."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.auth import create_api_key, revoke_api_key
from referentials.core.db import session_scope
from referentials.core.notify.worker import drain
from tests.conftest import Api
from tests.referentials.notify.conftest import FAST, create_identity, subscribe
from tests.referentials.notify.receiver import Receiver
from tests.reliability.test_metrics import scrape, value


def test_delivered_failed_pending_and_lag_per_subscription(
    api: Api, session_factory: sessionmaker[Session], engine: Engine, receiver: Receiver
) -> None:
    good, _ = subscribe(session_factory, receiver.url, client="good")
    down = Receiver()
    down.down()
    bad, _ = subscribe(session_factory, down.url, client="bad")
    # Its client's only key revoked since it subscribed: it hears nothing (an alert to raise).
    with session_scope(session_factory) as session:
        key, _ = create_api_key(session, client_name="gone", scopes=["identity:merge"])
    gone, _ = subscribe(session_factory, receiver.url, client="gone", key=False)
    with session_scope(session_factory) as session:
        revoke_api_key(session, key.id)
    create_identity(session_factory)
    create_identity(session_factory, birth_name="Moreau")
    drain(engine, FAST, timeout=3)

    samples = scrape(api)
    ok = {"subscription": str(good), "client": "good", "channel": "webhook"}
    ko = {"subscription": str(bad), "client": "bad", "channel": "webhook"}
    assert value(samples, "socle_notify_delivered_total", **ok) == 2
    assert value(samples, "socle_notify_pending", **ok) == 0
    assert value(samples, "socle_notify_lag_seconds", **ok) == 0
    assert value(samples, "socle_notify_delivered_total", **ko) == 0
    assert value(samples, "socle_notify_failed_total", **ko) >= 2
    assert value(samples, "socle_notify_pending", **ko) == 2
    assert value(samples, "socle_notify_lag_seconds", **ko) > 0
    assert value(samples, "socle_notify_dead_letters", **ko) == 0
    assert (
        value(samples, "socle_notify_silent", **ok)
        == value(samples, "socle_notify_silent", **ko)
        == 0
    )
    off = {"subscription": str(gone), "client": "gone", "channel": "webhook"}
    assert value(samples, "socle_notify_silent", **off) == 1
    assert value(samples, "socle_notify_delivered_total", **off) == 0
