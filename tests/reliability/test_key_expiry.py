"""API keys that end are said to the operators before their client is refused: the elected
scheduler's check (logs), `/metrics` and `socle apikey list`."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from identity.hl7v2 import senders as hl7_senders
from referentials import notify_wiring, scheduler
from referentials.core.audit import AuditEntry
from referentials.core.auth import SYSTEM, ApiKey, create_api_key, revoke_api_key
from referentials.core.db import session_scope, utcnow
from referentials.core.key_expiry import ending, time_left
from referentials.core.notify import service as notify_service
from referentials.core.notify.schemas import SubscriptionCreate
from referentials.core.settings import Settings
from referentials.core.usage import flush_all
from tests.cli import socle
from tests.conftest import Api
from tests.reliability.test_metrics import scrape, value

FINESS = "690999016"


def keys_ending(session_factory: sessionmaker[Session]) -> dict[str, tuple[int, str]]:
    """Keys of every kind of end, by a name of the test: id and secret."""
    now = utcnow()
    made: dict[str, tuple[int, str]] = {}
    with session_scope(session_factory) as sess:
        for name, client, expires, scopes in [
            (
                "soon",
                "dpi-alone",
                now + timedelta(days=3, hours=1),
                ["identity:read", "identity:write"],
            ),
            ("ended", "gone", now - timedelta(days=1), ["directory:read"]),
            ("later", "later", now + timedelta(days=60), ["directory:read"]),
            ("revoked", "left", now + timedelta(days=1), ["directory:read"]),
            ("never", "forever", None, ["directory:read"]),
            ("paired", "dpi-pair", now + timedelta(days=2, hours=1), ["identity:read"]),
            ("spare", "dpi-pair", None, ["identity:read"]),
        ]:
            key, secret = create_api_key(
                sess, client_name=client, scopes=scopes, finess=FINESS, expires_at=expires
            )
            made[name] = key.id, secret
        revoke_api_key(sess, made["revoked"][0])
    return made


def subscribe(session_factory: sessionmaker[Session], client: str) -> int:
    data = SubscriptionCreate(
        client_name=client,
        channel="webhook",
        config={"url": "http://127.0.0.1:9/hook"},
        event_types=["identity.created"],
    )
    with session_scope(session_factory) as sess:
        return notify_service.create(sess, SYSTEM, data=data)[0].id


def test_the_check_warns_of_keys_ended_or_ending_and_the_subscriptions_they_silence(
    session_factory: sessionmaker[Session],
    db_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    notify_wiring.install(db_settings)
    made = keys_ending(session_factory)
    alone = subscribe(session_factory, "dpi-alone")
    subscribe(session_factory, "dpi-pair")  # its spare key keeps it hearing
    with session_scope(session_factory) as sess:
        found = ending(sess, within=timedelta(days=14))
    assert [(k.key_id, k.client_name) for k in found] == [
        (made["ended"][0], "gone"),
        (made["paired"][0], "dpi-pair"),
        (made["soon"][0], "dpi-alone"),
    ]
    assert {k.key_id: sorted(k.silenced) for k in found} == {
        made["ended"][0]: [],
        made["paired"][0]: [],
        made["soon"][0]: [alone],
    }
    # Its interface engine sends ADT as it, stored and in the settings.
    with session_scope(session_factory) as sess:
        sender = hl7_senders.add(sess, SYSTEM, "facility", "CHFM", made["soon"][0]).id
    hl7 = db_settings.hl7.model_copy(update={"facility_keys": {"CHFM-TEST": made["soon"][0]}})
    settings = db_settings.model_copy(update={"hl7": hl7})
    with caplog.at_level(logging.WARNING, logger="socle.keys"):
        assert scheduler.check_keys(session_factory, settings) == 3
    lines = [r.getMessage() for r in caplog.records if r.name == "socle.keys"]
    assert len(lines) == 5, lines
    assert lines[0].startswith(f"API key {made['ended'][0]} of client 'gone' expired on ")
    assert "its requests are refused (401)" in lines[0]
    assert lines[1].startswith(f"API key {made['paired'][0]} of client 'dpi-pair' expires on ")
    assert (
        "in 2 day(s): give the client a new key before then "
        f"(socle apikey replace {made['paired'][0]})" in lines[1]
    )
    assert lines[2].startswith(f"API key {made['soon'][0]} of client 'dpi-alone' expires on ")
    assert "in 3 day(s)" in lines[2]
    assert lines[3] == (
        f"once API key {made['soon'][0]} has ended, subscription(s) {alone} of client "
        "'dpi-alone' hear nothing of some of what they ask for: no other valid key of the "
        "client reads it"
    )
    assert lines[4] == (
        f"once API key {made['soon'][0]} has ended, the messages of MLLP sender(s) facility "
        f"CHFM-TEST (SOCLE_HL7__FACILITY_KEYS); sender {sender}: facility CHFM are refused (AR), "
        "unless applied as the client's new key (socle apikey replace moves the stored ones; the "
        "settings named are yours to change)"
    )
    # Ids and client names only: never a secret.
    assert not any(secret in line for _, secret in made.values() for line in lines)
    # A wider warning reaches the key of 60 days; a revoked key is never warned of.
    with session_scope(session_factory) as sess:
        wider = {k.key_id for k in ending(sess, within=timedelta(days=90))}
    assert made["later"][0] in wider and made["revoked"][0] not in wider


def test_the_check_runs_when_elected_then_daily(scheduled_jobs: BackgroundScheduler) -> None:
    job = scheduled_jobs.get_job("api-key-expiry")
    assert job is not None and "hour='8'" in str(job.trigger)
    # Once at once: a restart shows the keys that ended while the service was down.
    assert job.next_run_time is not None and job.next_run_time <= utcnow() + timedelta(seconds=5)


def test_metrics_give_each_key_its_time_left(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    made = keys_ending(session_factory)
    samples = scrape(api)

    def left(name: str, client: str) -> float:
        labels = {"key": str(made[name][0]), "client": client}
        return value(samples, "socle_api_key_expires_in_seconds", **labels)

    assert 3 * 86400 < left("soon", "dpi-alone") <= (3 * 24 + 1) * 3600
    assert -86400 - 60 < left("ended", "gone") <= -86400
    assert left("later", "later") > 59 * 86400
    exposed = {
        dict(labels)["key"]
        for name, labels in samples
        if name == "socle_api_key_expires_in_seconds"
    }
    # Revoked keys and keys without an expiry are left out.
    assert str(made["revoked"][0]) not in exposed and str(made["never"][0]) not in exposed


def test_the_cli_list_marks_keys_ended_or_ending(
    db_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    made = keys_ending(session_factory)
    listed = socle(db_settings, "apikey", "list")
    assert listed.returncode == 0, listed.stderr
    state = {int(line.split("\t")[0]): line.split("\t")[-1] for line in listed.stdout.splitlines()}
    assert state[made["ended"][0]].startswith("EXPIRED ")
    assert state[made["ended"][0]].endswith("(refused: give the client a new key)")
    assert state[made["soon"][0]].endswith("(in 3 day(s): give a new key)")
    assert state[made["later"][0]].startswith("expires ") and "(" not in state[made["later"][0]]
    assert state[made["revoked"][0]] == "revoked"
    assert state[made["never"][0]] == "expires never"
    as_json = socle(db_settings, "apikey", "list", "--json")
    rows = {row["id"]: row for row in json.loads(as_json.stdout)}
    assert rows[made["ended"][0]]["expired"] is True
    assert rows[made["soon"][0]]["expired"] is False
    assert rows[made["never"][0]]["expired"] is False


def test_replace_gives_the_client_a_new_key_and_moves_what_acted_as_the_old(
    api: Api, session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    with session_scope(session_factory) as sess:
        old, old_secret = create_api_key(
            sess,
            client_name="CHFM",
            scopes=["identity:read", "identity:write"],
            finess=FINESS,
            expires_at=utcnow() + timedelta(days=5),
        )
        sender = hl7_senders.add(sess, SYSTEM, "facility", "CHFM", old.id).id
        other, _ = create_api_key(sess, client_name="other", scopes=["identity:write"])
        hl7_senders.add(sess, SYSTEM, "cn", "other-eai", other.id)
        old_id, other_id = old.id, other.id
    env = {"SOCLE_HL7__FACILITY_KEYS": json.dumps({"CHFM-OLD": old_id})}
    done = socle(db_settings, "apikey", "replace", str(old_id), "--json", env=env)
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["replaces"] == old_id and body["oauth_clients"] == []
    assert body["scopes"] == ["identity:read", "identity:write"]
    assert body["mllp_senders"] == [f"sender {sender}: facility CHFM"]
    said = " ".join(done.stderr.split())
    assert (
        f"warning: MLLP sender facility CHFM-OLD (SOCLE_HL7__FACILITY_KEYS) is still applied as "
        f"key {old_id}: set it to {body['id']} in the settings" in said
    )
    assert f"key {old_id} stays valid until revoked" in said
    # Both keys work until the old one is revoked; the new one lasts as long as the old did.
    assert api.get("/api/v1/events", key=body["key"]).status_code == 200
    assert api.get("/api/v1/events", key=old_secret).status_code == 200
    with session_scope(session_factory) as sess:
        new = sess.get(ApiKey, body["id"])
        assert new is not None and new.expires_at is not None
        assert (new.client_name, new.finess, new.revoked) == ("CHFM", FINESS, False)
        assert timedelta(days=4.99) < new.expires_at - utcnow() <= timedelta(days=5)
        moved = {s.value: s.key_id for s in hl7_senders.every(sess)}
        assert moved == {"CHFM": body["id"], "other-eai": other_id}
        trail = sess.scalars(
            select(AuditEntry).where(
                AuditEntry.entity_type == hl7_senders.ENTITY, AuditEntry.action == "update"
            )
        ).one()
        assert (trail.entity_id, trail.before, trail.after) == (
            str(sender),
            {"key_id": old_id},
            {"key_id": body["id"]},
        )
    # A lifetime of its own; an unknown key is said, nothing made.
    longer = json.loads(
        socle(
            db_settings, "apikey", "replace", str(old_id), "--expires-days", "30", "--json"
        ).stdout
    )
    lasts = datetime.fromisoformat(longer["expires_at"]) - utcnow()
    assert timedelta(days=29.99) < lasts <= timedelta(days=30)
    unknown = socle(db_settings, "apikey", "replace", "987654")
    assert unknown.returncode == 2 and "no API key 987654" in unknown.stderr
    with session_scope(session_factory) as sess:
        assert sess.query(ApiKey).filter(ApiKey.client_name == "CHFM").count() == 3


def test_the_cli_list_says_when_each_key_was_last_used(
    api: Api, session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    # What tells the operator that a client has switched to its new key.
    with session_scope(session_factory) as sess:
        used, used_secret = create_api_key(sess, client_name="busy", scopes=["identity:read"])
        idle, _ = create_api_key(sess, client_name="idle", scopes=["identity:read"])
        used_id, idle_id = used.id, idle.id
    assert api.get("/api/v1/events", key=used_secret).status_code == 200
    flush_all()  # the counts are written every few seconds
    rows = {r["id"]: r for r in json.loads(socle(db_settings, "apikey", "list", "--json").stdout)}
    assert rows[used_id]["last_used"] == utcnow().date().isoformat()
    assert rows[idle_id]["last_used"] is None
    listed = socle(db_settings, "apikey", "list").stdout.splitlines()
    columns = {int(line.split("\t")[0]): line.split("\t")[4] for line in listed}
    assert columns[used_id] == f"used {utcnow().date().isoformat()}"
    assert columns[idle_id] == "never used"


def test_time_left_reads_as_an_operator_counts_it() -> None:
    # A key made for 3 days is 3 days away, not 2 (timedelta.days floors).
    assert time_left(timedelta(days=3) - timedelta(seconds=5)) == "3 day(s)"
    assert time_left(timedelta(days=2, hours=1)) == "2 day(s)"
    assert time_left(timedelta(hours=5, minutes=10)) == "5 hour(s)"
    assert time_left(timedelta(minutes=3)) == "1 hour(s)"
