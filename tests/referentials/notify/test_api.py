"""The subscriptions API over HTTP (scope admin): CRUD, deliveries, replay, redelivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.auth import create_api_key, revoke_api_key
from referentials.core.db import session_scope
from referentials.core.notify.worker import drain
from tests.conftest import Api
from tests.factories import identity_body
from tests.referentials.notify.conftest import FAST
from tests.referentials.notify.receiver import Receiver


def _create(api: Api, url: str, **extra: object) -> dict[str, object]:
    body = {
        "client_name": "client-identity:merge",
        "channel": "webhook",
        "config": {"url": url},
        "event_types": ["identity.created", "identity.updated"],
        **extra,
    }
    answer = api.post("/api/v1/subscriptions", json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, object] = answer.json()
    return created


def test_only_admins_manage_subscriptions(api: Api, receiver: Receiver) -> None:
    assert api.get("/api/v1/subscriptions", key="identity:merge").status_code == 403
    assert api.get("/api/v1/subscriptions", key=None).status_code == 401
    created = _create(api, receiver.url)
    assert str(created["secret"]).startswith("whsec_")
    listed = api.get("/api/v1/subscriptions", key="admin").json()
    assert [s["id"] for s in listed] == [created["id"]]
    assert "secret" not in listed[0]


def test_bad_subscriptions_are_refused_naming_the_field(api: Api, receiver: Receiver) -> None:
    cases = [
        ({"config": {"url": "ftp://x.example/hook"}}, "config.url"),
        ({"config": {"url": "http://hooks.example.org/x"}}, "config.url"),
        ({"config": {"url": receiver.url, "colour": "red"}}, "config.colour"),
        ({"event_types": ["identity.exploded"]}, "event_types"),
        ({"channel": "pigeon"}, "channel"),
        ({"establishments": ["12"]}, "establishments"),
        ({"establishments": ["ABCDEFGHI"]}, "establishments"),
        # A client with no API key would hear nothing at all.
        ({"client_name": "dpi-without-key"}, "client_name"),
    ]
    for change, field in cases:
        body = {
            "client_name": "client-identity:merge",
            "channel": "webhook",
            "config": {"url": receiver.url},
            "event_types": ["identity.created"],
            **change,
        }
        answer = api.post("/api/v1/subscriptions", json=body)
        assert answer.status_code == 422, (change, answer.text)
        assert field in answer.json()["fields"], (change, answer.json())
    assert api.get("/api/v1/subscriptions").json() == []


def test_a_subscription_its_clients_keys_could_not_hear_is_refused_saying_why(
    api: Api, receiver: Receiver, session_factory: sessionmaker[Session]
) -> None:
    with session_scope(session_factory) as session:
        create_api_key(session, client_name="no-finess", scopes=["identity:read"])
    # client-identity:read's key holds identity:read for the establishment 690999016 only.
    cases = [
        ("client-directory:read", {}, "event_types", "have neither identity:read nor"),
        ("no-finess", {}, "client_name", "are tied to no establishment (FINESS)"),
        (
            "client-identity:read",
            {"establishments": ["690999016", "670999911"]},
            "establishments",
            "are not tied to 670999911",
        ),
    ]
    for client, extra, field, why in cases:
        answer = api.post(
            "/api/v1/subscriptions",
            json={
                "client_name": client,
                "channel": "webhook",
                "config": {"url": receiver.url},
                "event_types": ["identity.updated"],
                **extra,
            },
        )
        assert answer.status_code == 422, (client, answer.text)
        assert list(answer.json()["fields"]) == [field], answer.json()
        assert why in answer.json()["detail"], answer.json()
    # Its own establishment it hears; a change that would make it deaf is refused, unapplied.
    sub = _create(api, receiver.url, client_name="client-identity:read")
    path = f"/api/v1/subscriptions/{sub['id']}"
    narrowed = api.patch(path, json={"establishments": ["690999016"]})
    assert narrowed.status_code == 200, narrowed.text
    moved = api.patch(path, json={"establishments": ["670999911"], "status": "paused"})
    assert moved.status_code == 422 and list(moved.json()["fields"]) == ["establishments"]
    kept = api.get(path).json()
    assert (kept["establishments"], kept["status"]) == (["690999016"], "active")
    assert kept["silent"] is None
    # Its client's key revoked since: the subscription says why it hears nothing now.
    with session_scope(session_factory) as session:
        key, _ = create_api_key(session, client_name="leaving", scopes=["identity:merge"])
    leaving = _create(api, receiver.url, client_name="leaving")
    assert leaving["silent"] is None
    with session_scope(session_factory) as session:
        revoke_api_key(session, key.id)
    [listed] = api.get("/api/v1/subscriptions", params={"client_name": "leaving"}).json()
    assert "no valid API key belongs to the client 'leaving'" in listed["silent"]


def test_update_pause_and_delete(api: Api, receiver: Receiver) -> None:
    sub = _create(api, receiver.url)
    path = f"/api/v1/subscriptions/{sub['id']}"
    changed = api.patch(path, json={"status": "paused", "event_types": ["identity.merged"]})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["status"], changed.json()["event_types"]) == (
        "paused",
        ["identity.merged"],
    )
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_deliveries_replay_and_redeliver(api: Api, receiver: Receiver, engine: Engine) -> None:
    sub = _create(api, receiver.url)
    path = f"/api/v1/subscriptions/{sub['id']}"
    made = api.post("/api/v1/identities", json=identity_body())
    assert made.status_code in (200, 201), made.text
    identity_id = made.json()["id"]
    drain(engine, FAST)

    page = api.get(f"{path}/deliveries").json()
    [item] = page["items"]
    assert (item["status"], item["attempts"], item["last_status_code"]) == ("delivered", 1, 200)
    assert item["event_id"] == f"identity-{item['cursor']}"
    assert item["lag_seconds"] >= 0 and page["pending"] == 0 and page["dead"] == 0
    [first] = receiver.events()
    assert first["data"]["identity_id"] == identity_id

    # Replay from a date: the same event again, with the same idempotency key.
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    replayed = api.post(f"{path}/replay", json={"from_date": since})
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["cursor"] == item["cursor"] - 1
    drain(engine, FAST)
    assert [e["id"] for e in receiver.events()] == [first["id"]] * 2

    # Replay from a cursor, then one redelivery.
    assert api.post(f"{path}/replay", json={"from_cursor": 0}).status_code == 200
    drain(engine, FAST)
    again = api.post(f"{path}/deliveries/{item['id']}/redeliver")
    assert again.status_code == 200 and again.json()["status"] == "pending"
    drain(engine, FAST)
    assert [e["id"] for e in receiver.events()] == [first["id"]] * 4
    assert api.post(f"{path}/deliveries/999999/redeliver").status_code == 404
    assert api.post(f"{path}/replay", json={}).status_code == 422


def test_rotating_the_secret_keeps_the_previous_one_for_a_while(
    api: Api, receiver: Receiver
) -> None:
    sub = _create(api, receiver.url)
    rotated = api.post(f"/api/v1/subscriptions/{sub['id']}/rotate-secret").json()
    assert rotated["secret"] != sub["secret"]
    until = datetime.fromisoformat(rotated["previous_valid_until"])
    assert until > datetime.now(UTC) + timedelta(hours=23)
    read = api.get(f"/api/v1/subscriptions/{sub['id']}").json()
    assert read["secret_rotating_until"] is not None
