"""HL7 v2 and FHIR notifications through the delivery engine, end to end: a change made in
Socle over its real HTTP API reaches a real MLLP listener or a real FHIR rest-hook endpoint;
refusals, retries and the subscription's status as the API and FHIR show them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from identity.hl7v2 import message as pam_reader
from identity.referential import rules
from referentials.core.auth import create_api_key
from referentials.core.db import session_scope
from referentials.core.notify.worker import drain
from referentials.core.settings import NotifySettings
from tests.conftest import Api
from tests.factories import identity_body
from tests.identity.fhir_check import fhir_json, validate
from tests.identity.http_receiver import HttpReceiver
from tests.identity.mllp_receiver import MllpReceiver
from tests.identity.test_fhir_patient import LOCAL_SYSTEM
from tests.identity.test_fhir_subscription import SKIP
from tests.identity.test_hl7v2 import post as post_hl7
from tests.identity.test_hl7v2 import sample

CHFM, HCL = "690999016", "690781810"
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
def mllp() -> Iterator[MllpReceiver]:
    with MllpReceiver(silence_seconds=1.0) as server:
        yield server


@pytest.fixture()
def rest_hook() -> Iterator[HttpReceiver]:
    with HttpReceiver() as server:
        yield server


def _hl7_subscription(api: Api, factory: sessionmaker[Session], port: int, **kw: Any) -> int:
    """CHFM's DPI, a client of that establishment, listening on MLLP."""
    with session_scope(factory) as session:
        create_api_key(session, client_name="DPI CHFM", scopes=["identity:read"], finess=CHFM)
    body = {
        "client_name": "DPI CHFM",
        "channel": "hl7v2",
        "config": {"host": "127.0.0.1", "port": port, "receiving_application": "DPI"},
        "event_types": ["identity.created", "identity.merged", "identity.unmerged"],
        "timeout_seconds": 5,
        **kw,
    }
    created = api.post("/api/v1/subscriptions", key="admin", json=body)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _merge_over_hl7(api: Api, engine: Engine) -> None:
    """CHFM's patient administration sends two A28 then an A40: Socle merges. The worker runs
    after each message, as the embedded one does while they arrive."""
    for name in ("a28_create.hl7", "a28_second.hl7", "a40_merge.hl7"):
        answer = post_hl7(api, sample(name), key="all")
        assert "MSA|AA|" in answer.text, answer.text
        drain(engine, FAST)


def _deliveries(api: Api, sub_id: int) -> list[dict[str, Any]]:
    page = api.get(f"/api/v1/subscriptions/{sub_id}/deliveries", key="admin")
    assert page.status_code == 200, page.text
    return sorted(page.json()["items"], key=lambda d: d["cursor"])


def test_a_merge_made_over_hl7_reaches_the_listener_as_an_a40(
    api: Api, session_factory: sessionmaker[Session], engine: Engine, mllp: MllpReceiver
) -> None:
    sub_id = _hl7_subscription(api, session_factory, mllp.port)
    _merge_over_hl7(api, engine)
    drain(engine, FAST)
    created_1, created_2, merged = mllp.messages()
    assert "|ADT^A28^ADT_A05|" in created_1 and "|ADT^A28^ADT_A05|" in created_2
    adt = pam_reader.read(merged, rules.INS_OIDS)
    assert adt.header.event == "A40" and adt.header.sending_application == "SOCLE"
    assert "IPP-1001" in {c.value for c in adt.local_ids}
    assert "IPP-1002" in {c.value for c in adt.merged_ids}
    assert "IPP-1002" not in {c.value for c in adt.local_ids}
    rows = _deliveries(api, sub_id)
    assert [r["status"] for r in rows] == ["delivered"] * 3
    assert rows[-1]["event_type"] == "identity.merged"
    assert adt.header.control_id == rows[-1]["event_id"]
    assert f"MSA|AA|{rows[-1]['event_id']}" in rows[-1]["last_answer"]


def test_an_ae_is_retried_until_the_listener_recovers_and_an_ar_is_dead(
    api: Api, session_factory: sessionmaker[Session], engine: Engine, mllp: MllpReceiver
) -> None:
    sub_id = _hl7_subscription(api, session_factory, mllp.port, event_types=["identity.created"])
    mllp.answer("AE", "207", times=2)  # the receiver's database is busy twice
    post_hl7(api, sample("a28_create.hl7"), key="all")
    for _ in range(20):
        drain(engine, FAST)
        if _deliveries(api, sub_id)[0]["status"] == "delivered":
            break
        time.sleep(0.1)
    [row] = _deliveries(api, sub_id)
    assert (row["status"], row["attempts"]) == ("delivered", 3)
    # The same control id on every attempt: the receiver can tell a resend.
    assert len({m.split("|")[9] for m in mllp.messages()}) == 1

    mllp.answer("AR")
    post_hl7(api, sample("a28_second.hl7"), key="all")
    drain(engine, FAST)
    dead = _deliveries(api, sub_id)[-1]
    assert (dead["status"], dead["attempts"]) == ("dead", 1)
    assert dead["last_error"].startswith("AR") and "MSA|AR|" in dead["last_answer"]


def _fhir_subscription(api: Api, url: str, criteria: str = "Patient?", **extra: Any) -> str:
    body = {
        **extra,
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "the regional platform follows merges",
        "criteria": criteria,
        "channel": {
            "type": "rest-hook",
            "endpoint": url,
            "payload": "application/fhir+json",
            "header": ["Authorization: Bearer hook-token"],
        },
    }
    created = api.post(
        "/fhir/Subscription",
        key="admin",
        json=body,
        headers={"Content-Type": "application/fhir+json"},
    )
    return str(fhir_json(created, 201)["id"])


def test_a_fhir_subscription_receives_numbered_notification_bundles(
    api: Api, engine: Engine, rest_hook: HttpReceiver
) -> None:
    sub_id = _fhir_subscription(api, rest_hook.url, "Patient?event=created,merged")
    stored = api.get(f"/api/v1/subscriptions/{sub_id}", key="admin").json()
    assert (stored["channel"], stored["event_types"]) == (
        "fhir",
        ["identity.created", "identity.merged"],
    )
    _merge_over_hl7(api, engine)
    drain(engine, FAST)
    posts = rest_hook.wait_for(3)
    bundles = [validate(p.json()) for p in posts]
    assert [b["meta"]["tag"][0]["code"] for b in bundles] == [
        "identity.created",
        "identity.created",
        "identity.merged",
    ]
    numbers = []
    for bundle in bundles:
        status = {p["name"]: p for p in bundle["entry"][0]["resource"]["parameter"]}
        assert status["subscription"]["valueReference"]["reference"].endswith(
            f"/fhir/Subscription/{sub_id}"
        )
        numbers.append(status["events-since-subscription-start"]["valueString"])
    assert numbers == ["1", "2", "3"]
    merged = bundles[-1]
    survivor, loser = (e["resource"] for e in merged["entry"][1:])
    assert loser["active"] is False and loser["link"][0]["type"] == "replaced-by"
    assert loser["link"][0]["other"]["reference"] == f"Patient/{survivor['id']}"
    assert posts[-1].headers["authorization"] == "Bearer hook-token"
    assert posts[-1].headers["idempotency-key"] == merged["identifier"]["value"]
    rows = _deliveries(api, int(sub_id))
    assert [r["status"] for r in rows] == ["delivered"] * 3
    assert rows[-1]["last_status_code"] == 200


def test_a_fhir_subscription_skips_the_changes_its_client_names(
    api: Api, engine: Engine, rest_hook: HttpReceiver
) -> None:
    """A tool that writes with the key of client-all and hears over FHIR is not sent its own
    creation back; another tool's creation reaches it."""
    extension = [{"url": SKIP, "valueString": "client-all"}]
    sub_id = _fhir_subscription(api, rest_hook.url, "Patient?event=created", extension=extension)
    read = fhir_json(api.get(f"/fhir/Subscription/{sub_id}", key="admin"))
    assert read["extension"] == extension
    own = identity_body(birth_name="Lefebvre")
    other = identity_body(birth_name="Garnier")
    assert api.post("/api/v1/identities", json=own).status_code == 201
    assert api.post("/api/v1/identities", key="identity:write", json=other).status_code == 201
    drain(engine, FAST)

    [post] = rest_hook.wait_for(1)
    patient = validate(post.json())["entry"][1]["resource"]
    assert patient["name"][0]["family"] == "GARNIER"
    assert len(_deliveries(api, int(sub_id))) == 1


def test_a_failing_endpoint_shows_the_subscription_in_error(
    api: Api, engine: Engine, rest_hook: HttpReceiver
) -> None:
    sub_id = _fhir_subscription(api, rest_hook.url, "Patient?event=created")
    rest_hook.answer(503)
    patient = {"birth_name": "Durand", "first_names": ["Paul"], "sex": "M"}
    for day in range(1, 5):
        body = {**patient, "birth_date": f"1970-01-0{day}"}
        assert api.post("/api/v1/identities", json=body).status_code == 201
    slow_breaker = FAST.model_copy(
        update={"breaker_threshold": 2, "breaker_cooldown_seconds": 60, "max_attempts": 10}
    )
    drain(engine, slow_breaker, timeout=3)
    read = fhir_json(api.get(f"/fhir/Subscription/{sub_id}", key="admin"))
    assert read["status"] == "error" and "503" in read["error"]
    rows = _deliveries(api, int(sub_id))
    assert rows[0]["status"] == "pending" and rows[0]["last_status_code"] == 503


def _known_at_two_establishments(api: Api, engine: Engine) -> int:
    """An identity of CHFM to which HCL then attaches its own local id."""
    body = identity_body(source={"finess": CHFM, "local_id": "IPP-77"})
    created = api.post("/api/v1/identities", json=body)
    assert created.status_code == 201, created.text
    ident = int(created.json()["id"])
    drain(engine, FAST)
    attached = api.post(
        f"/api/v1/identities/{ident}/local-ids", json={"finess": HCL, "local_id": "HCL-77"}
    )
    assert attached.status_code == 201, attached.text
    drain(engine, FAST)
    return ident


def test_a_subscription_of_one_establishment_is_not_told_of_the_others(
    api: Api,
    session_factory: sessionmaker[Session],
    engine: Engine,
    mllp: MllpReceiver,
    rest_hook: HttpReceiver,
) -> None:
    kinds = ["identity.created", "identity.local_id_attached"]
    _hl7_subscription(api, session_factory, mllp.port, event_types=kinds, establishments=[CHFM])
    _fhir_subscription(api, rest_hook.url, f"Patient?identifier={LOCAL_SYSTEM}|")
    _known_at_two_establishments(api, engine)
    created, attached = mllp.messages()
    assert "|ADT^A31^ADT_A05|" in attached
    for message in (created, attached):
        assert "IPP-77^^^" in message and "HCL-77" not in message
    posts = rest_hook.wait_for(2)
    for post in posts:
        patient = validate(post.json())["entry"][1]["resource"]
        assert {i["value"] for i in patient["identifier"]} == {"IPP-77"}


def test_a_receiver_is_not_sent_back_the_changes_its_own_sender_made(
    api: Api, session_factory: sessionmaker[Session], engine: Engine, mllp: MllpReceiver
) -> None:
    """CHFM's interface engine sends its ADT with one key and listens on MLLP: what it sent is
    not sent back to it, what another tool changes is; the feed marks each caller's own."""
    sender = "client-identity:write"  # the client of the key post_hl7 sends with (CHFM)
    types = ["identity.created", "identity.updated"]
    sub_id = _hl7_subscription(
        api, session_factory, mllp.port, event_types=types, skip_changes_by=[sender]
    )
    shown = api.get(f"/api/v1/subscriptions/{sub_id}", key="admin").json()
    assert shown["skip_changes_by"] == [sender]
    for name in ("a28_create.hl7", "a31_update.hl7"):
        assert "MSA|AA|" in post_hl7(api, sample(name)).text
    params = {"source_finess": CHFM, "local_id": "IPP-1001"}
    [found] = api.get("/api/v1/identities", params=params).json()["items"]
    assert found["used_name"] == "MARTIN"
    changed = api.patch(
        f"/api/v1/identities/{found['id']}",
        key="all",
        json={"used_name": "Durand"},
        headers={"If-Match": str(found["version"])},
    )
    assert changed.status_code == 200, changed.text
    drain(engine, FAST)

    [sent] = mllp.messages()
    assert "|ADT^A31^ADT_A05|" in sent and "DURAND" in sent
    # The sender's changes were never queued for this receiver (nothing to retry or replay).
    assert [r["event_type"] for r in _deliveries(api, sub_id)] == ["identity.updated"]
    feed = api.get("/api/v1/events", key="all").json()["items"]
    assert [(e["type"], e["own"]) for e in feed] == [
        ("identity.created", False),
        ("identity.updated", False),
        ("identity.updated", True),
    ]

    # A misspelt client would skip nothing: it is refused, and the skip stays as it was.
    typo = api.patch(
        f"/api/v1/subscriptions/{sub_id}", key="admin", json={"skip_changes_by": ["client-x"]}
    )
    assert typo.status_code == 422 and typo.json()["fields"] == {"skip_changes_by": ["client-x"]}
    assert "no API key belongs to the client 'client-x'" in typo.json()["detail"]
    shown = api.get(f"/api/v1/subscriptions/{sub_id}", key="admin").json()
    assert shown["skip_changes_by"] == [sender]

    # Without the skip, the sender's next change reaches its receiver as any other.
    patched = api.patch(
        f"/api/v1/subscriptions/{sub_id}", key="admin", json={"skip_changes_by": []}
    )
    assert patched.status_code == 200 and patched.json()["skip_changes_by"] == []
    assert "MSA|AA|" in post_hl7(api, sample("a31_update.hl7", MARTIN="DUPONT")).text
    drain(engine, FAST)
    assert len(mllp.messages()) == 2 and "DUPONT" in mllp.messages()[-1]
