"""API keys end: revocation (CLI) and expiry take effect on the very next request, over HTTP."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from referentials import notify_wiring
from referentials.core.auth import SYSTEM, ApiKey, create_api_key, revoke_api_key
from referentials.core.db import session_scope, utcnow
from referentials.core.errors import NotFound
from referentials.core.notify import service as notify_service
from referentials.core.notify.schemas import SubscriptionCreate
from referentials.core.settings import Settings
from tests.cli import socle
from tests.conftest import Api

PROBE = "/api/v1/events"


def test_revoked_key_is_refused_on_its_next_request(
    api: Api, session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    with session_scope(session_factory) as sess:
        key, secret = create_api_key(sess, client_name="leaving", scopes=["identity:read"])
        key_id = key.id
    assert api.get(PROBE, key=secret).status_code == 200
    revoked = socle(db_settings, "apikey", "revoke", str(key_id))
    assert revoked.returncode == 0, revoked.stderr
    response = api.get(PROBE, key=secret)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    listed = socle(db_settings, "apikey", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["id"] == key_id)
    assert row["revoked"] is True and row["hint"] == secret[:8]
    assert secret not in listed.stdout


def test_revoking_an_unknown_key_fails_clearly(session: Session) -> None:
    with pytest.raises(NotFound, match="no API key 987654"):
        revoke_api_key(session, 987654)


def test_key_stops_working_when_it_expires(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    with session_scope(session_factory) as sess:
        _, secret = create_api_key(
            sess,
            client_name="short",
            scopes=["identity:read"],
            expires_at=utcnow() + timedelta(seconds=1.5),
        )
    assert api.get(PROBE, key=secret).status_code == 200
    time.sleep(1.7)
    response = api.get(PROBE, key=secret)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_cli_creates_a_key_with_an_expiry(
    db_settings: Settings, api: Api, session_factory: sessionmaker[Session]
) -> None:
    created = socle(
        db_settings, "apikey", "create", "--name", "temp", "--scopes", "ror:read",
        "--expires-days", "2", "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    body = json.loads(created.stdout)
    assert body["scopes"] == ["ror:read"]
    with session_scope(session_factory) as sess:
        key = sess.get(ApiKey, body["id"])
        assert key is not None and key.expires_at is not None
        assert timedelta(days=1.9) < key.expires_at - utcnow() <= timedelta(days=2)
    assert api.get("/api/v1/ror/completeness", key=body["key"]).status_code == 200


def test_cli_refuses_a_key_it_could_not_use(
    db_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    cases = [
        (["--name", "dpi", "--finess", "12"], "'12' is not a FINESS number"),
        (["--name", "dpi", "--finess", "690999O16"], "'690999O16' is not a FINESS number"),
        (["--name", "  "], "a client's name is 1 to 200 characters"),
        (["--name", "system"], "'system' names the service's own jobs or an officer"),
        (["--name", "user:alice"], "'user:alice' names the service's own jobs or an officer"),
    ]
    for options, message in cases:
        refused = socle(db_settings, "apikey", "create", "--scopes", "identity:read", *options)
        said = " ".join(refused.stderr.split())
        assert refused.returncode == 2 and refused.stdout == "", (options, said)
        assert f"error: {message}" in said, (options, said)
    with session_scope(session_factory) as sess:
        assert sess.query(ApiKey).count() == 0
    # A Corsican establishment's FINESS is one.
    created = socle(
        db_settings, "apikey", "create", "--name", "CH Bastia", "--scopes", "identity:write",
        "--finess", "2B0999902", "--json",
    )  # fmt: skip
    assert created.returncode == 0, created.stdout
    with session_scope(session_factory) as sess:
        key = sess.get(ApiKey, json.loads(created.stdout)["id"])
        assert key is not None and (key.client_name, key.finess) == ("CH Bastia", "2B0999902")


def test_revoking_a_key_warns_of_the_subscriptions_it_leaves_silent(
    db_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    notify_wiring.install(db_settings)
    with session_scope(session_factory) as sess:
        merging, _ = create_api_key(sess, client_name="hub", scopes=["identity:merge"])
        spare, _ = create_api_key(sess, client_name="hub", scopes=["identity:merge"])
        reader, _ = create_api_key(sess, client_name="hub", scopes=["directory:read"])
        data = SubscriptionCreate(
            client_name="hub",
            channel="webhook",
            config={"url": "http://127.0.0.1:9/hook"},
            event_types=["identity.merged"],
        )
        sub_id = notify_service.create(sess, SYSTEM, data=data)[0].id
        ids = merging.id, spare.id, reader.id
    # Another key reads identities still: nothing to say.
    one = socle(db_settings, "apikey", "revoke", str(ids[0]))
    assert one.returncode == 0 and "warning" not in one.stderr, one.stderr
    # The key left reads the directory only: the subscription hears no merge any more.
    last = socle(db_settings, "apikey", "revoke", str(ids[1]))
    said = " ".join(last.stderr.split())
    assert last.returncode == 0, said
    assert (
        f"warning: subscription {sub_id} hears nothing of some of what it asks for: the keys "
        "of client 'hub' have neither identity:read nor identity:merge" in said
    )
    # None left at all.
    gone = socle(db_settings, "apikey", "revoke", str(ids[2]))
    assert "no valid API key belongs to the client 'hub'" in " ".join(gone.stderr.split())
