"""Who hears of what: a client hears of the identities it holds a local id for, unless it may
merge; a merge, or a link of two local ids, is heard by the holders of either side, ordered after
both sides' events."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import merges
from identity.referential import links, local_ids
from identity.referential import service as identities
from identity.referential.schemas import IdentityCreate, IdentityUpdate, LocalIdRequest
from referentials.core.auth import SYSTEM, create_api_key, revoke_api_key
from referentials.core.db import session_scope
from referentials.core.errors import ValidationFailed
from referentials.core.notify.worker import drain
from tests.factories import identity_body
from tests.referentials.notify.conftest import FAST, subscribe
from tests.referentials.notify.receiver import Receiver

CLINIC, OTHER = "690999016", "670999911"
TYPES = ["identity.created", "identity.updated", "identity.merged"]


def _identity(factory: sessionmaker[Session], finess: str, local_id: str, name: str) -> int:
    body = identity_body(birth_name=name, source={"finess": finess, "local_id": local_id})
    with session_scope(factory) as session:
        return identities.create(session, SYSTEM, data=IdentityCreate(**body)).identity.id


def _rename(factory: sessionmaker[Session], identity_id: int, used_name: str) -> None:
    with session_scope(factory) as session:
        identities.update(
            session,
            SYSTEM,
            identity_id,
            data=IdentityUpdate(used_name=used_name),
            expected_version=None,
        )


def test_a_client_hears_only_of_identities_it_holds_unless_it_may_merge(
    session_factory: sessionmaker[Session], engine: Engine, wired: None
) -> None:
    clinic, vigilance, narrowed = Receiver(), Receiver(), Receiver()
    with session_scope(session_factory) as session:
        create_api_key(session, client_name="clinic", scopes=["identity:read"], finess=CLINIC)
    subscribe(session_factory, clinic.url, client="clinic", key=False, event_types=TYPES)
    subscribe(session_factory, vigilance.url, client="vigilance", event_types=TYPES)
    subscribe(
        session_factory,
        narrowed.url,
        client="regional",
        event_types=TYPES,
        establishments=[OTHER],
    )
    mine = _identity(session_factory, CLINIC, "IPP-1", "Bernard")
    theirs = _identity(session_factory, OTHER, "IPP-9", "Bernardo")
    _rename(session_factory, theirs, "Petit")
    drain(engine, FAST)

    assert {e["data"]["identity_id"] for e in clinic.events()} == {mine}
    assert {e["data"]["identity_id"] for e in vigilance.events()} == {mine, theirs}
    assert {e["data"]["identity_id"] for e in narrowed.events()} == {theirs}

    # Merge the other establishment's identity into the clinic's: both hear of it.
    with session_scope(session_factory) as session:
        merges.merge(session, SYSTEM, survivor_id=mine, loser_id=theirs, reason="same person")
    drain(engine, FAST)
    [merged] = [e for e in clinic.events() if e["type"] == "identity.merged"]
    assert merged["subjects"] == sorted([f"identity:{mine}", f"identity:{theirs}"])
    assert merged["data"]["loser_id"] == theirs
    assert [e["type"] for e in narrowed.events()][-1] == "identity.merged"
    for r in (clinic, vigilance, narrowed):
        r.down()


def test_a_client_without_a_valid_key_cannot_subscribe_and_hears_nothing_once_revoked(
    session_factory: sessionmaker[Session], engine: Engine, wired: None, receiver: Receiver
) -> None:
    # No key: the subscription would hear nothing, so it is refused, naming the client.
    with pytest.raises(ValidationFailed) as refused:
        subscribe(session_factory, receiver.url, client="nobody", key=False, event_types=TYPES)
    assert refused.value.fields == {"client_name": "nobody"}
    assert "no valid API key belongs to the client 'nobody'" in str(refused.value)
    # A key revoked after the subscription: from then on it hears nothing.
    with session_scope(session_factory) as session:
        key, _ = create_api_key(session, client_name="leaving", scopes=["identity:merge"])
    subscribe(session_factory, receiver.url, client="leaving", key=False, event_types=TYPES)
    _identity(session_factory, CLINIC, "IPP-1", "Robert")
    drain(engine, FAST)
    assert len(receiver.events()) == 1
    with session_scope(session_factory) as session:
        revoke_api_key(session, key.id)
    _identity(session_factory, CLINIC, "IPP-2", "Roberta")
    drain(engine, FAST)
    assert len(receiver.events()) == 1
    # Nor can a client whose only key is revoked subscribe again.
    with pytest.raises(ValidationFailed):
        subscribe(session_factory, receiver.url, client="leaving", key=False, event_types=TYPES)


def test_a_link_of_two_local_ids_is_heard_by_the_holders_of_either_identity(
    session_factory: sessionmaker[Session], engine: Engine, wired: None
) -> None:
    other_side, elsewhere = Receiver(), Receiver()
    linked_types = ["identity.local_ids_linked"]
    subscribe(
        session_factory,
        other_side.url,
        client="regional",
        event_types=linked_types,
        establishments=[OTHER],
    )
    with session_scope(session_factory) as session:
        create_api_key(session, client_name="far", scopes=["identity:read"], finess="130999999")
    subscribe(session_factory, elsewhere.url, client="far", key=False, event_types=linked_types)
    mine = _identity(session_factory, CLINIC, "IPP-1", "Bernard")
    theirs = _identity(session_factory, OTHER, "IPP-9", "Bernardo")
    with session_scope(session_factory) as session:
        request = LocalIdRequest(finess=CLINIC, local_id="IPP-2")
        local_ids.attach_by_request(session, SYSTEM, theirs, data=request)
        one, other = (links.record_of(session, CLINIC, x) for x in ("IPP-1", "IPP-2"))
        assert one is not None and other is not None
        # The clinic links its two ids: OTHER holds only the second identity, and hears of it.
        assert links.link(session, SYSTEM, one, other, control_id="A24-1", reason="one patient")
    drain(engine, FAST)
    [heard] = other_side.events()
    assert heard["type"] == "identity.local_ids_linked"
    assert heard["subjects"] == sorted([f"identity:{mine}", f"identity:{theirs}"])
    assert heard["data"]["linked_identity_id"] == theirs
    assert elsewhere.events() == []
    for r in (other_side, elsewhere):
        r.down()
