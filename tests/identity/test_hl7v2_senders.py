"""MLLP senders stored in the database with `socle hl7-sender`: a running listener applies a
sender's messages as its key from the next message on, and refuses them once it is removed."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from identity.hl7v2 import senders
from identity.hl7v2.mllp import MllpServer, frame
from referentials.core.audit import AuditEntry
from referentials.core.auth import create_api_key
from referentials.core.db import session_scope
from referentials.core.errors import AppError
from referentials.core.principal import SYSTEM
from referentials.core.settings import Hl7Settings, Settings
from tests.cli import socle
from tests.identity.test_hl7v2 import sample
from tests.identity.test_hl7v2_mllp import msa, receive
from tests.identity.test_hl7v2_mllp_tls import (  # noqa: F401  (fixtures)
    World,
    exchange,
    pki,
    sources,
    world,
)

CHFM = "690999016"


@pytest.fixture()
def plain_listener(session_factory: sessionmaker[Session]) -> Iterator[MllpServer]:
    """A loopback listener whose settings map no sender."""
    server = MllpServer(session_factory, Hl7Settings(), host="127.0.0.1", port=0).start()
    yield server
    server.stop()


def _key(factory: sessionmaker[Session], scopes: list[str]) -> int:
    with session_scope(factory) as sess:
        key, _ = create_api_key(sess, client_name="CHFM engine", scopes=scopes, finess=CHFM)
        return key.id


def _send(server: MllpServer, name: str) -> list[str]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(frame(sample(name)))
        return msa(receive(sock))


def test_a_facility_added_and_removed_with_the_cli_while_the_listener_runs(
    plain_listener: MllpServer, session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    key_id = _key(session_factory, ["identity:write"])
    refused = _send(plain_listener, "a28_create.hl7")
    assert refused[1] == "AR" and "not mapped" in refused[3]

    added = socle(db_settings, "hl7-sender", "add", "--facility", "CHFM", "--key-id", str(key_id))
    assert added.returncode == 0, added.stderr
    sender_id = int(added.stdout)
    assert _send(plain_listener, "a28_create.hl7")[1:3] == ["AA", "CHFM-0001"]
    assert sources(session_factory) == [(CHFM, "IPP-1001")]
    listed = socle(db_settings, "hl7-sender", "list", "--json")
    assert json.loads(listed.stdout) == [
        {"id": sender_id, "kind": "facility", "value": "CHFM", "key_id": key_id}
    ]
    again = socle(db_settings, "hl7-sender", "add", "--facility", "CHFM", "--key-id", str(key_id))
    assert again.returncode == 2 and "already mapped" in again.stderr

    removed = socle(db_settings, "hl7-sender", "remove", str(sender_id))
    assert removed.returncode == 0, removed.stderr
    assert _send(plain_listener, "a28_second.hl7")[1] == "AR"
    assert sources(session_factory) == [(CHFM, "IPP-1001")]
    with session_scope(session_factory) as sess:
        trail = sess.scalars(
            select(AuditEntry.action).where(AuditEntry.entity_type == senders.ENTITY)
        )
        assert list(trail) == ["create", "delete"]


def test_revoking_a_senders_key_warns_that_its_messages_are_refused(
    session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    key_id = _key(session_factory, ["identity:write"])
    added = socle(db_settings, "hl7-sender", "add", "--cn", "chfm-eai", "--key-id", str(key_id))
    sender_id = int(added.stdout)
    other = _key(session_factory, ["identity:write"])
    mapped = socle(db_settings, "hl7-sender", "add", "--facility", "CHFM", "--key-id", str(other))
    assert mapped.returncode == 0, mapped.stderr
    # The settings' map names the key too: both are said.
    env = {"SOCLE_HL7__FACILITY_KEYS": json.dumps({"CHFM-OLD": key_id})}
    revoked = socle(db_settings, "apikey", "revoke", str(key_id), env=env)
    said = " ".join(revoked.stderr.split())
    assert revoked.returncode == 0, said
    assert (
        "warning: the messages of MLLP sender(s) facility CHFM-OLD (SOCLE_HL7__FACILITY_KEYS); "
        f"sender {sender_id}: cn chfm-eai are refused (AR) from now on: map them to another key"
    ) in said
    assert "facility CHFM " not in said  # mapped to the other key
    quiet = socle(db_settings, "apikey", "revoke", str(_key(session_factory, ["identity:read"])))
    assert quiet.returncode == 0 and "warning" not in quiet.stderr, quiet.stderr


def test_a_sender_is_refused_a_key_that_could_not_send(
    session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    reader = _key(session_factory, ["identity:read"])
    writer = _key(session_factory, ["identity:write"])
    denied = socle(db_settings, "hl7-sender", "add", "--facility", "CHFM", "--key-id", str(reader))
    assert denied.returncode == 2 and "lacks the scope 'identity:write'" in denied.stderr
    both = ("--facility", "CHFM", "--cn", "chfm-eai", "--key-id", str(writer))
    assert socle(db_settings, "hl7-sender", "add", *both).returncode == 2
    with session_scope(session_factory) as sess:
        for kind, value, key_id, message in [
            ("facility", "CHFM", 987654, "API key 987654 is unknown or revoked"),
            ("cert", "AB:CD", writer, "32 bytes of hex"),
            ("ip", "10.0.0.1", writer, "kind is one of cert, cn, facility"),
            ("cn", " ", writer, "1 to 200 characters"),
        ]:
            with pytest.raises(AppError, match=message):
                senders.add(sess, SYSTEM, kind, value, key_id)
        assert senders.every(sess) == []


def test_a_certificate_stored_by_its_fingerprint_sends_and_the_settings_come_first(
    world: World,  # noqa: F811
    session_factory: sessionmaker[Session],
) -> None:
    """The ``world`` listener maps some certificates in its settings, not ``unmapped``."""
    assert exchange(world, world.unmapped, "a28_create.hl7")[1] == "AR"
    # As operators copy a fingerprint from openssl: upper case with colons.
    copied = "sha256:" + ":".join(f"{b:02X}" for b in bytes.fromhex(world.unmapped.fingerprint))
    with session_scope(session_factory) as sess:
        senders.add(sess, SYSTEM, "cert", copied, world.chfm_key)
        # by_cn's common name is mapped in the settings to a key that may only read.
        senders.add(sess, SYSTEM, "cn", "reader-eai", world.chfm_key)
    assert exchange(world, world.unmapped, "a28_create.hl7")[1:3] == ["AA", "CHFM-0001"]
    assert sources(session_factory) == [(CHFM, "IPP-1001")]
    answer = exchange(world, world.by_cn, "a28_second.hl7")
    assert answer[1] == "AR" and "identity:write" in answer[3]
