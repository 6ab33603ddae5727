"""The fhir notification channel against a real HTTP receiver: the Bundle it POSTs (checked
against the R4 models), the headers, and what each answer becomes for the delivery engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import merges
from identity.fhir import notification
from identity.fhir.notify import FhirChannel
from identity.fhir.systems import LocalIdSystems
from identity.referential import links, local_ids, service
from identity.referential.models import IdentityEvent, Merge
from identity.referential.schemas import IdentityCreate, LocalIdRequest, SourceRef
from referentials import notify_wiring
from referentials.core.auth import create_api_key
from referentials.core.db import session_scope
from referentials.core.notify import service as notify_service
from referentials.core.notify.channels import (
    ChannelConfigError,
    Notification,
    Target,
    Unrenderable,
)
from referentials.core.notify.schemas import SubscriptionCreate
from referentials.core.principal import SYSTEM
from referentials.core.settings import Settings
from tests.identity.fhir_check import validate
from tests.identity.http_receiver import HttpReceiver

SETTINGS = Settings(base_url="https://socle.example")
BASE = "https://socle.example/fhir"
CHFM = "690999016"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"


@pytest.fixture()
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as server:
        yield server


@pytest.fixture()
def channel() -> Iterator[FhirChannel]:
    found = FhirChannel(SETTINGS)
    yield found
    found.close()


@pytest.fixture()
def sub(session_factory: sessionmaker[Session], db_settings: Settings) -> int:
    """The subscription the deliveries belong to (the channel reads its establishments)."""
    notify_wiring.install(db_settings)
    data = SubscriptionCreate(
        client_name="DPI CHFM",
        channel="fhir",
        config={"endpoint": "https://dpi.example/n", "payload": "application/fhir+json"},
        event_types=["identity.merged"],
    )
    with session_scope(session_factory) as session:
        # Its client holds a key of its establishment: a client without one cannot subscribe.
        create_api_key(session, client_name="DPI CHFM", scopes=["identity:read"], finess=CHFM)
        return notify_service.create(session, SYSTEM, data=data)[0].id


def _target(sub: int, channel: FhirChannel, url: str, timeout: float = 5.0) -> Target:
    config = channel.validate(
        {
            "endpoint": url,
            "payload": "application/fhir+json",
            "headers": ["Authorization: Bearer receiver-token", "X-Tenant: chfm"],
            "criteria": "Patient?",
        }
    )
    return Target(sub, "DPI CHFM", config, ("s",), timeout)


def _identity(session: Session, local_id: str) -> int:
    data = IdentityCreate(
        birth_name="Martin",
        first_names=["Jeanne"],
        sex="F",
        birth_date="1961-02-03",  # type: ignore[arg-type]
        source=SourceRef(finess="690999016", local_id=local_id),
    )
    return service.create(session, SYSTEM, data=data).identity.id


def _notification(session: Session, kind: str) -> Notification:
    row = session.scalars(
        select(IdentityEvent).where(IdentityEvent.type == kind).order_by(IdentityEvent.id.desc())
    ).first()
    assert row is not None
    return Notification(
        event_id=f"identity-{row.id}",
        source="identity",
        cursor=row.id,
        type=row.type,
        subjects=(f"identity:{row.identity_id}",),
        at=row.at,
        payload={**row.payload, "identity_id": row.identity_id},
        subscription_id=3,
        delivery_id=1,
        attempt=1,
    )


def _merged(factory: sessionmaker[Session]) -> tuple[int, int]:
    with session_scope(factory) as session:
        survivor, loser = _identity(session, "IPP-A"), _identity(session, "IPP-B")
        merges.merge(session, SYSTEM, survivor_id=survivor, loser_id=loser, reason="twins")
        return survivor, loser


def _render(
    factory: sessionmaker[Session], channel: FhirChannel, kind: str, target: Target
) -> tuple[Notification, dict[str, Any]]:
    with session_scope(factory) as session:
        notification = _notification(session, kind)
        return notification, channel.render(session, notification, target)


def test_a_merge_is_posted_as_a_backport_notification_bundle(
    sub: int, session_factory: sessionmaker[Session], receiver: HttpReceiver, channel: FhirChannel
) -> None:
    survivor, loser = _merged(session_factory)
    target = _target(sub, channel, receiver.url)
    notification, bundle = _render(session_factory, channel, "identity.merged", target)
    outcome = channel.send(bundle, notification, target)
    assert outcome.kind == "ok" and outcome.status_code == 200
    [post] = receiver.received()
    assert post.headers["content-type"] == "application/fhir+json"
    assert post.headers["authorization"] == "Bearer receiver-token"
    assert post.headers["x-tenant"] == "chfm"
    assert post.headers["idempotency-key"] == notification.event_id
    received = validate(post.json())
    assert received["type"] == "history"
    assert received["meta"]["profile"] == [f"{BACKPORT}/backport-subscription-notification-r4"]
    assert received["meta"]["tag"][0]["code"] == "identity.merged"
    assert received["identifier"]["value"] == notification.event_id
    status, first, second = (e["resource"] for e in received["entry"])
    params = {p["name"]: p for p in status["parameter"]}
    assert params["subscription"]["valueReference"]["reference"] == f"{BASE}/Subscription/{sub}"
    assert params["type"]["valueCode"] == "event-notification"
    event = {p["name"]: p for p in params["notification-event"]["part"]}
    assert event["focus"]["valueReference"]["reference"] == f"{BASE}/Patient/{survivor}"
    ctx = event["additional-context"]["valueReference"]["reference"]
    assert ctx == f"{BASE}/Patient/{loser}"
    assert first["id"] == str(survivor) and first["active"] is True
    assert first["link"] == [{"other": {"reference": f"Patient/{loser}"}, "type": "replaces"}]
    assert second["id"] == str(loser) and second["active"] is False
    assert second["link"] == [
        {"other": {"reference": f"Patient/{survivor}"}, "type": "replaced-by"}
    ]
    # The absorbed identity's local id now names the survivor.
    ids = {i["value"] for i in first["identifier"]}
    assert {"IPP-A", "IPP-B"} <= ids
    assert received["entry"][1]["fullUrl"] == f"{BASE}/Patient/{survivor}"
    assert received["entry"][1]["request"] == {"method": "PUT", "url": f"Patient/{survivor}"}


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        *[(201, "ok"), (204, "ok"), (500, "retry"), (503, "retry"), (429, "retry"), (425, "retry")],
        *[(408, "retry"), (400, "permanent"), (401, "permanent"), (404, "permanent")],
        (301, "permanent"),
    ],
)
def test_each_http_answer_becomes_delivered_retried_or_dead(
    sub: int,
    session_factory: sessionmaker[Session],
    receiver: HttpReceiver,
    channel: FhirChannel,
    status: int,
    kind: str,
) -> None:
    _merged(session_factory)
    receiver.answer(status)
    target = _target(sub, channel, receiver.url)
    notification, bundle = _render(session_factory, channel, "identity.merged", target)
    outcome = channel.send(bundle, notification, target)
    assert outcome.kind == kind and outcome.status_code == status
    assert len(receiver.received()) == 1


def test_a_slow_or_absent_receiver_is_a_retry(
    sub: int, session_factory: sessionmaker[Session], receiver: HttpReceiver, channel: FhirChannel
) -> None:
    _merged(session_factory)
    receiver.answer(200, delay=1.5)
    target = _target(sub, channel, receiver.url, timeout=0.3)
    notification, bundle = _render(session_factory, channel, "identity.merged", target)
    slow = channel.send(bundle, notification, target)
    assert slow.kind == "retry" and "no answer within 0.3 s" in slow.detail
    with HttpReceiver() as gone:
        url = gone.url
    down = channel.send(bundle, notification, _target(sub, channel, url))
    assert down.kind == "retry" and "ConnectError" in down.detail


def test_an_unmerge_carries_the_restored_identity_then_the_survivor(
    sub: int, session_factory: sessionmaker[Session], channel: FhirChannel
) -> None:
    _, loser = _merged(session_factory)
    with session_scope(session_factory) as session:
        record = session.scalars(select(Merge)).one()
        merges.undo(session, SYSTEM, record.id, reason="two people")
    target = _target(sub, channel, "https://dpi.example/notify")
    _, bundle = _render(session_factory, channel, "identity.unmerged", target)
    validate(bundle)
    restored, kept = (e["resource"] for e in bundle["entry"][1:])
    assert restored["id"] == str(loser) and restored["active"] is True
    assert "link" not in restored and "link" not in kept
    assert {i["value"] for i in restored["identifier"]} == {"IPP-B"}
    assert {i["value"] for i in kept["identifier"]} == {"IPP-A"}


def test_an_identity_that_is_gone_is_unrenderable(
    sub: int, session_factory: sessionmaker[Session], channel: FhirChannel
) -> None:
    notification = Notification(
        "identity-1", "identity", 1, "identity.updated", ("identity:99",),
        datetime.now(UTC), {"identity_id": 99, "changed": ["used_name"]}, 3, 1, 1,
    )  # fmt: skip
    with session_scope(session_factory) as session, pytest.raises(Unrenderable):
        channel.render(session, notification, _target(sub, channel, "https://dpi.example/n"))
    assert channel.supports("identity.merged") and not channel.supports("directory.imported")


J = "application/fhir+json"


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({"payload": J}, "config.endpoint", "is required"),
        ({"endpoint": "https://x.example/n"}, "config.payload", J),
        ({"endpoint": "ftp://x.example/n", "payload": J}, "config.endpoint", "https"),
        ({"endpoint": "http://x.example/n", "payload": J}, "config.endpoint", "loopback"),
        ({"endpoint": "https://u:p@x.example/n", "payload": J}, "config.endpoint", "credentials"),
        (
            {"endpoint": "https://x.example/n", "payload": J, "headers": ["bad"]},
            "config.headers",
            "Name: value",
        ),
        (
            {"endpoint": "https://x.example/n", "payload": J, "headers": ["Host: e"]},
            "config.headers",
            "set by Socle",
        ),
        ({"endpoint": "https://x.example/n", "payload": J, "url": "x"}, "config.url", "unknown"),
    ],
)
def test_a_wrong_config_is_refused_naming_the_field(
    channel: FhirChannel, config: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ChannelConfigError) as caught:
        channel.validate(config)
    assert caught.value.field_name == field and words in caught.value.message


def test_a_narrowed_subscription_gets_only_its_establishments_local_ids(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        ident = _identity(session, "IPP-A")
        request = LocalIdRequest(finess="690781810", local_id="HCL-1")
        local_ids.attach_by_request(session, SYSTEM, ident, data=request)
    local = LocalIdSystems.from_settings(SETTINGS)
    with session_scope(session_factory) as session:
        row = _notification(session, "identity.local_id_attached")

        def ids(establishments: frozenset[str]) -> set[str]:
            found = notification.bundle(
                session,
                kind=row.type,
                identity_id=ident,
                payload=row.payload,
                at=row.at,
                key=row.event_id,
                subscription_id=3,
                cursor=row.cursor,
                base=BASE,
                local=local,
                establishments=establishments,
            )
            patient = validate(found)["entry"][1]["resource"]
            return {i["value"] for i in patient.get("identifier", [])}

        assert ids(frozenset()) == {"IPP-A", "HCL-1"}
        assert ids(frozenset({"690999016"})) == {"IPP-A"}
        assert ids(frozenset({"750000001"})) == set()


def test_a_link_carries_both_identities_each_seealso_the_other_until_unlinked(
    sub: int, session_factory: sessionmaker[Session], channel: FhirChannel
) -> None:
    with session_scope(session_factory) as session:
        first, second = _identity(session, "IPP-A"), _identity(session, "IPP-B")
        records = [links.record_of(session, "690999016", x) for x in ("IPP-A", "IPP-B")]
        one, other = records
        assert one is not None and other is not None
        links.link(session, SYSTEM, one, other, control_id="A24-1", reason="one patient")
    target = _target(sub, channel, "https://dpi.example/notify")
    assert channel.supports("identity.local_ids_linked")
    _, bundle = _render(session_factory, channel, "identity.local_ids_linked", target)
    validate(bundle)
    assert bundle["meta"]["tag"][0]["code"] == "identity.local_ids_linked"
    focus, context = (e["resource"] for e in bundle["entry"][1:])
    assert (focus["id"], context["id"]) == (str(first), str(second))
    assert focus["link"] == [{"other": {"reference": f"Patient/{second}"}, "type": "seealso"}]
    assert context["link"] == [{"other": {"reference": f"Patient/{first}"}, "type": "seealso"}]
    with session_scope(session_factory) as session:
        links.unlink(session, SYSTEM, one, other, reason="two patients after all")
    _, undone = _render(session_factory, channel, "identity.local_ids_unlinked", target)
    validate(undone)
    assert [e["resource"]["id"] for e in undone["entry"][1:]] == [str(first), str(second)]
    assert all("link" not in e["resource"] for e in undone["entry"][1:])
