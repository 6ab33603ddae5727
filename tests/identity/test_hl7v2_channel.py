"""The hl7v2 notification channel against real MLLP receivers (plain TCP and TLS with client
certificates): what each ACK, silence or broken answer becomes for the delivery engine."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import merges
from identity.hl7v2 import message as pam_reader
from identity.hl7v2.channel import Hl7v2Channel
from identity.referential import rules, service
from identity.referential.schemas import IdentityCreate, SourceRef
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
from referentials.core.settings import Hl7Settings, Settings
from tests.identity.mllp_receiver import MllpReceiver
from tests.identity.test_hl7v2_mllp_tls import Pki

CHFM = "690999016"
SETTINGS = Settings(hl7=Hl7Settings(authorities={"1.2.250.1.999.1.1": CHFM}))


@pytest.fixture()
def receiver() -> Iterator[MllpReceiver]:
    with MllpReceiver(silence_seconds=2.0) as server:
        yield server


def _identity(session: Session, local_id: str) -> int:
    data = IdentityCreate(
        birth_name="Martin",
        first_names=["Jeanne"],
        sex="F",
        birth_date="1961-02-03",  # type: ignore[arg-type]
        source=SourceRef(finess=CHFM, local_id=local_id),
    )
    return service.create(session, SYSTEM, data=data).identity.id


def _notification(kind: str, identity_id: int, cursor: int, **payload: Any) -> Notification:
    return Notification(
        event_id=f"identity-{cursor}",
        source="identity",
        cursor=cursor,
        type=kind,
        subjects=(f"identity:{identity_id}",),
        at=datetime.now(UTC),
        payload={"identity_id": identity_id, **payload},
        subscription_id=1,
        delivery_id=cursor,
        attempt=1,
    )


@pytest.fixture()
def sub(session_factory: sessionmaker[Session], db_settings: Settings) -> int:
    """The subscription the deliveries belong to (the channel reads its establishments)."""
    notify_wiring.install(db_settings)
    data = SubscriptionCreate(
        client_name="DPI CHFM",
        channel="hl7v2",
        config={"host": "127.0.0.1", "port": 2575},
        event_types=["identity.merged"],
    )
    with session_scope(session_factory) as session:
        # Its client holds a key of its establishment: a client without one cannot subscribe.
        create_api_key(session, client_name="DPI CHFM", scopes=["identity:read"], finess=CHFM)
        return notify_service.create(session, SYSTEM, data=data)[0].id


def _target(sub: int, config: dict[str, Any], timeout: float = 10.0) -> Target:
    return Target(sub, "DPI CHFM", Hl7v2Channel(SETTINGS).validate(config), ("s",), timeout)


def _render(
    factory: sessionmaker[Session], notification: Notification, target: Target
) -> list[Any]:
    with session_scope(factory) as session:
        return Hl7v2Channel(SETTINGS).render(session, notification, target)


@pytest.fixture()
def merged(session_factory: sessionmaker[Session]) -> Notification:
    with session_scope(session_factory) as session:
        survivor, loser = _identity(session, "IPP-A"), _identity(session, "IPP-B")
        record = merges.merge(session, SYSTEM, survivor_id=survivor, loser_id=loser, reason="r")
        moved = [{"finess": CHFM, "local_id": "IPP-B"}]
        return _notification(
            "identity.merged",
            survivor,
            7,
            survivor_id=survivor,
            loser_id=loser,
            merge_id=record.id,
            moved_local_ids=moved,
        )


def test_an_aa_delivers_the_a40_with_the_event_key_as_control_id(
    sub: int, session_factory: sessionmaker[Session], receiver: MllpReceiver, merged: Notification
) -> None:
    channel = Hl7v2Channel(SETTINGS)
    target = _target(
        sub, {"host": "127.0.0.1", "port": receiver.port, "receiving_facility": "CHFM"}
    )
    outcome = channel.send(_render(session_factory, merged, target), merged, target)
    assert outcome.kind == "ok" and outcome.detail.startswith("AA")
    assert "MSA|AA|identity-7" in outcome.answer
    [received] = receiver.messages()
    adt = pam_reader.read(received, rules.INS_OIDS)
    assert adt.header.event == "A40" and adt.header.control_id == "identity-7"
    assert [c.value for c in adt.merged_ids][-1] == "IPP-B"
    assert "IPP-A" in {c.value for c in adt.local_ids}
    # CHFM's ids under the OID its software uses (SOCLE_HL7__AUTHORITIES).
    assert "IPP-A^^^&1.2.250.1.999.1.1&ISO^PI" in received


@pytest.mark.parametrize(
    ("mode", "error_code", "kind"),
    [
        ("AE", "207", "retry"),  # the receiver's own trouble: try again later
        ("AE", "206", "retry"),
        ("AE", "", "retry"),
        ("AE", "204", "permanent"),  # unknown key: the same message will fail again
        ("AE", "101", "permanent"),
        ("AR", "", "permanent"),
        ("CR", "", "permanent"),
        ("CA", "", "ok"),
        ("other-id", "", "retry"),  # an ACK of another message is no ACK
        ("close", "", "retry"),
        ("garbage", "", "retry"),
        ("silent", "", "retry"),
    ],
)
def test_each_answer_becomes_delivered_retried_or_dead(
    sub: int,
    session_factory: sessionmaker[Session],
    receiver: MllpReceiver,
    merged: Notification,
    mode: str,
    error_code: str,
    kind: str,
) -> None:
    receiver.answer(mode, error_code)
    target = _target(sub, {"host": "127.0.0.1", "port": receiver.port}, timeout=0.5)
    outcome = Hl7v2Channel(SETTINGS).send(_render(session_factory, merged, target), merged, target)
    assert outcome.kind == kind, outcome
    assert len(receiver.messages()) == 1
    if mode == "silent":
        assert "no ACK within 0.5 s" in outcome.detail
    if mode in ("AE", "AR", "CR"):
        assert outcome.detail.startswith(f"{mode} {error_code}".strip())
        assert f"MSA|{mode}|identity-7" in outcome.answer


def test_a_receiver_that_is_down_is_a_retry(
    sub: int, session_factory: sessionmaker[Session], merged: Notification
) -> None:
    with MllpReceiver() as gone:
        port = gone.port
    target = _target(sub, {"host": "127.0.0.1", "port": port})
    outcome = Hl7v2Channel(SETTINGS).send(_render(session_factory, merged, target), merged, target)
    assert outcome.kind == "retry" and "ConnectionRefusedError" in outcome.detail


def test_an_unmerge_sends_two_messages_and_stops_at_the_first_refusal(
    sub: int, session_factory: sessionmaker[Session], receiver: MllpReceiver
) -> None:
    with session_scope(session_factory) as session:
        survivor, loser = _identity(session, "IPP-1"), _identity(session, "IPP-2")
        record = merges.merge(session, SYSTEM, survivor_id=survivor, loser_id=loser, reason="r")
        merge_id = record.id
    with session_scope(session_factory) as session:
        merges.undo(session, SYSTEM, merge_id, reason="two people")
    notice = _notification(
        "identity.unmerged", loser, 9, survivor_id=survivor, loser_id=loser, merge_id=merge_id
    )
    channel = Hl7v2Channel(SETTINGS)
    target = _target(sub, {"host": "127.0.0.1", "port": receiver.port})
    messages = _render(session_factory, notice, target)
    assert channel.send(messages, notice, target).kind == "ok"
    first, second = receiver.messages()
    assert "|ADT^A28^ADT_A05|identity-9-1|" in first
    assert "|ADT^A31^ADT_A05|identity-9-2|" in second
    receiver.answer("AR")
    refused = channel.send(messages, notice, target)
    assert refused.kind == "permanent" and "identity-9-1" in refused.answer
    assert len(receiver.messages()) == 3  # the A31 was not sent after the refused A28


def test_an_identity_gone_or_an_event_without_message_is_unrenderable(
    sub: int,
    session_factory: sessionmaker[Session],
) -> None:
    target = _target(sub, {"host": "127.0.0.1", "port": 2575})
    with pytest.raises(Unrenderable, match="no identity 424242"):
        _render(session_factory, _notification("identity.updated", 424242, 1), target)
    with pytest.raises(Unrenderable, match="identity events only"):
        _render(session_factory, _notification("directory.imported", 1, 2), target)
    channel = Hl7v2Channel(SETTINGS)
    assert channel.supports("identity.merged") and not channel.supports("ror.imported")


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({"port": 2575}, "config.host", "is required"),
        ({"host": "127.0.0.1"}, "config.port", "1 to 65535"),
        ({"host": "127.0.0.1", "port": 70000}, "config.port", "1 to 65535"),
        ({"host": "10.1.2.3", "port": 2575}, "config.tls", "only a loopback address"),
        ({"host": "mllp.chu.example", "port": 2575, "tls": True}, "config.cert_file", "cert_file"),
        (
            {"host": "h", "port": 1, "tls": True, "cert_file": "/nope.pem", "key_file": "/k"},
            "config.cert_file",
            "cannot read /nope.pem",
        ),
        ({"host": "127.0.0.1", "port": 2575, "processing_id": "X"}, "config.processing_id", "P"),
        ({"host": "127.0.0.1", "port": 2575, "hots": 1}, "config.hots", "unknown"),
        ({"host": "127.0.0.1", "port": 2575, "tls": "yes"}, "config.tls", "true or false"),
    ],
)
def test_a_wrong_config_is_refused_naming_the_field(
    config: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ChannelConfigError) as caught:
        Hl7v2Channel(SETTINGS).validate(config)
    assert caught.value.field_name == field and words in caught.value.message


def test_over_tls_socle_shows_its_certificate_and_checks_the_receivers(
    sub: int, session_factory: sessionmaker[Session], merged: Notification, tmp_path: Path
) -> None:
    pki = Pki(tmp_path)
    server_cert, client = pki.issue("chfm-mllp", server=True), pki.issue("socle-notify")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_cert.cert, server_cert.key)
    context.load_verify_locations(cafile=pki.ca_file)
    context.verify_mode = ssl.CERT_REQUIRED
    config = {
        "host": "127.0.0.1",
        "tls": True,
        "cert_file": str(client.cert),
        "key_file": str(client.key),
        "ca_file": str(pki.ca_file),
    }
    channel = Hl7v2Channel(SETTINGS)
    with MllpReceiver(tls=context) as receiver:
        target = _target(sub, {**config, "port": receiver.port})
        outcome = channel.send(_render(session_factory, merged, target), merged, target)
        assert outcome.kind == "ok", outcome
        assert receiver.received.peers == ["socle-notify"]
        # A receiver whose certificate Socle's CA bundle does not vouch for gets nothing.
        (tmp_path / "other").mkdir()
        stranger = Pki(tmp_path / "other", name="Other CA")
        target = _target(sub, {**config, "port": receiver.port, "ca_file": str(stranger.ca_file)})
        refused = channel.send(_render(session_factory, merged, target), merged, target)
        assert refused.kind == "retry" and "TLS" in refused.detail
        assert len(receiver.messages()) == 1


def test_the_connection_stays_open_between_deliveries_and_is_reopened_when_dropped(
    sub: int, session_factory: sessionmaker[Session], receiver: MllpReceiver, merged: Notification
) -> None:
    channel = Hl7v2Channel(SETTINGS)
    target = _target(sub, {"host": "127.0.0.1", "port": receiver.port})
    messages = _render(session_factory, merged, target)
    for _ in range(3):
        assert channel.send(messages, merged, target).kind == "ok"
    assert (len(receiver.messages()), receiver.connections) == (3, 1)
    # The receiver drops idle connections: the next delivery reconnects and still goes through
    # on its first attempt.
    receiver.hang_up = True
    assert channel.send(messages, merged, target).kind == "ok"  # then closed by the receiver
    assert channel.send(messages, merged, target).kind == "ok"  # found closed: a new one
    assert (len(receiver.messages()), receiver.connections) == (5, 2)
    channel.close()
    # After an ACK of another message the stream is out of step: that connection is not kept.
    receiver.hang_up = False
    receiver.answer("other-id")
    assert channel.send(messages, merged, target).kind == "retry"
    receiver.answer("AA")
    assert channel.send(messages, merged, target).kind == "ok"
    assert receiver.connections == 4
    channel.close()
