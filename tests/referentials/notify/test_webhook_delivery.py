"""Webhook deliveries to a real HTTP receiver: signed, idempotent, retried, dead-lettered."""

from __future__ import annotations

import hashlib
import hmac
import time

from sqlalchemy.orm import Session, sessionmaker

from referentials.core.auth import SYSTEM
from referentials.core.db import session_scope
from referentials.core.notify import service
from referentials.core.notify.models import Delivery
from referentials.core.notify.worker import drain
from tests.referentials.notify.conftest import FAST, create_identity, subscribe
from tests.referentials.notify.receiver import Receiver


def independent_verify(header: str, body: bytes, secret: str) -> bool:
    """What a receiver writes from the README alone: HMAC-SHA256 over "<t>.<body>"."""
    fields = [item.split("=", 1) for item in header.split(",")]
    timestamp = next(v for k, v in fields if k == "t")
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    expected = mac.hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and any(k == "v1" and hmac.compare_digest(v, expected) for k, v in fields)


def test_an_identity_change_is_posted_signed_with_its_idempotency_key(
    session_factory: sessionmaker[Session], engine: object, wired: None, receiver: Receiver
) -> None:
    sub_id, secret = subscribe(session_factory, receiver.url)
    identity_id = create_identity(session_factory)

    drain(engine, FAST)  # type: ignore[arg-type]

    [got] = receiver.received
    body = got.json
    assert body["type"] == "identity.created"
    assert body["data"]["identity_id"] == identity_id
    assert body["subjects"] == [f"identity:{identity_id}"]
    assert got.headers["Socle-Event-Id"] == body["id"] == f"identity-{body['cursor']}"
    assert got.headers["Idempotency-Key"] == body["id"]
    assert independent_verify(got.headers["Socle-Signature"], got.body, secret)
    assert not independent_verify(got.headers["Socle-Signature"], got.body, "whsec_other")
    assert not independent_verify(got.headers["Socle-Signature"], got.body + b" ", secret)
    with session_scope(session_factory) as session:
        [delivery] = session.query(Delivery).filter_by(subscription_id=sub_id).all()
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
            "delivered",
            1,
            200,
        )
        assert delivery.last_answer == '{"ok": true}'


def test_during_a_rotation_both_secrets_sign(
    session_factory: sessionmaker[Session], engine: object, wired: None, receiver: Receiver
) -> None:
    sub_id, old = subscribe(session_factory, receiver.url)
    with session_scope(session_factory) as session:
        new, _ = service.rotate_secret(session, SYSTEM, sub_id)
    create_identity(session_factory)

    drain(engine, FAST)  # type: ignore[arg-type]

    [got] = receiver.received
    header = got.headers["Socle-Signature"]
    assert header.count("v1=") == 2
    assert independent_verify(header, got.body, new)
    assert independent_verify(header, got.body, old)


def _rows(factory: sessionmaker[Session], sub_id: int) -> list[Delivery]:
    with session_scope(factory) as session:
        return (
            session.query(Delivery)
            .filter_by(subscription_id=sub_id)
            .order_by(Delivery.cursor)
            .all()
        )


def _until(engine: object, check: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        drain(engine, FAST, timeout=1)  # type: ignore[arg-type]
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_a_refused_event_is_retried_then_dead_while_the_others_go_then_redelivered(
    session_factory: sessionmaker[Session], engine: object, wired: None, receiver: Receiver
) -> None:
    sub_id, _ = subscribe(session_factory, receiver.url, max_attempts=3)
    poisoned = create_identity(session_factory)
    others = [
        create_identity(session_factory, birth_name="Martin" + "abcdefgh"[i]) for i in range(3)
    ]
    receiver.status_of = lambda e: 503 if e["data"]["identity_id"] == poisoned else None

    _until(
        engine, lambda: {r.status for r in _rows(session_factory, sub_id)} == {"delivered", "dead"}
    )

    rows = _rows(session_factory, sub_id)
    [dead] = [r for r in rows if r.status == "dead"]
    assert dead.payload["identity_id"] == poisoned
    assert (dead.failures, dead.last_status_code, dead.last_answer) == (3, 503, "receiver says no")
    assert sorted(e["data"]["identity_id"] for e in receiver.events()) == sorted(others)

    receiver.status_of = lambda e: None
    with session_scope(session_factory) as session:
        service.redeliver(session, SYSTEM, sub_id, dead.id)
    drain(engine, FAST)  # type: ignore[arg-type]

    got = receiver.received[-1]
    assert got.headers["Socle-Event-Id"] == f"identity-{dead.cursor}"
    assert got.json["data"]["identity_id"] == poisoned
    assert receiver.attempts.count(f"identity-{dead.cursor}") == 4


def test_a_permanent_refusal_is_dead_at_once(
    session_factory: sessionmaker[Session], engine: object, wired: None, receiver: Receiver
) -> None:
    sub_id, _ = subscribe(session_factory, receiver.url)
    create_identity(session_factory)
    receiver.status = 400

    drain(engine, FAST)  # type: ignore[arg-type]

    [row] = _rows(session_factory, sub_id)
    assert (row.status, row.attempts, row.last_error) == ("dead", 1, "HTTP 400")


def test_a_receiver_failing_everything_opens_the_breaker_and_loses_nothing(
    session_factory: sessionmaker[Session], engine: object, wired: None, receiver: Receiver
) -> None:
    sub_id, _ = subscribe(session_factory, receiver.url, max_attempts=2)
    ids = [create_identity(session_factory, birth_name="Durand" + "abcdefgh"[i]) for i in range(6)]
    receiver.status = 500

    _until(engine, lambda: len(receiver.attempts) >= 8)
    with session_scope(session_factory) as session:
        sub = service.get(session, sub_id)
        assert sub.breaker_open_until is not None and sub.breaker_failures >= FAST.breaker_threshold
    assert {r.status for r in _rows(session_factory, sub_id)} == {"pending"}

    receiver.status = 200
    _until(engine, lambda: {r.status for r in _rows(session_factory, sub_id)} == {"delivered"})
    assert sorted(e["data"]["identity_id"] for e in receiver.events()) == ids


def test_a_receiver_slower_than_the_timeout_is_retried(
    session_factory: sessionmaker[Session], engine: object, wired: None, receiver: Receiver
) -> None:
    sub_id, _ = subscribe(session_factory, receiver.url, timeout_seconds=0.3)
    create_identity(session_factory)
    receiver.delay = 1.0

    drain(engine, FAST, timeout=2)  # type: ignore[arg-type]

    [row] = _rows(session_factory, sub_id)
    assert (row.status, row.last_error) == ("pending", "no answer within 0.3s")
    receiver.delay = 0
    _until(engine, lambda: _rows(session_factory, sub_id)[0].status == "delivered")
