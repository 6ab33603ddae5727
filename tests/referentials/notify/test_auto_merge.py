"""Automatic merges (``SOCLE_MATCHING__AUTO_MERGE``): two qualified identities with the same INS
and the same strict traits are merged by the service's rule, and every tool hears of it, the one
whose change set it off included."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import service as duplicates
from identity.referential import service as identities
from identity.referential.models import Identity, Merge
from identity.referential.schemas import IdentityCreate, IdentityUpdate
from referentials.core.auth import create_api_key
from referentials.core.db import session_scope
from referentials.core.notify.worker import drain
from referentials.core.principal import Principal
from tests.factories import give_ins, identity_body
from tests.referentials.notify.conftest import FAST, subscribe
from tests.referentials.notify.receiver import Receiver

CLINIC, HOSPITAL = "690999016", "670999911"


@pytest.fixture()
def auto_merge() -> Iterator[None]:
    before = duplicates.current()
    duplicates.configure(replace(before, auto_merge=True))
    yield
    duplicates.configure(before)


def _qualified(factory: sessionmaker[Session], by: Principal, finess: str, local_id: str) -> int:
    body = identity_body(source={"finess": finess, "local_id": local_id})
    with session_scope(factory) as session:
        created = identities.create(session, by, data=IdentityCreate(**body)).identity
        created.validation_document, created.validation_date = "CN", created.created_at.date()
        identity_id = created.id
    give_ins(factory, identity_id)
    return identity_id


def test_an_automatic_merge_is_heard_by_the_tool_whose_change_set_it_off(
    session_factory: sessionmaker[Session], engine: Engine, wired: None, auto_merge: None
) -> None:
    hospital = Principal(
        key_id=None, client_name="hospital", finess=HOSPITAL, scopes=frozenset({"identity:write"})
    )
    clinic = Principal(
        key_id=None, client_name="clinic", finess=CLINIC, scopes=frozenset({"identity:write"})
    )
    with session_scope(session_factory) as session:
        create_api_key(session, client_name="hospital", scopes=["identity:read"], finess=HOSPITAL)
    receiver = Receiver()
    types = ["identity.updated", "identity.merged"]
    subscribe(
        session_factory,
        receiver.url,
        client="hospital",
        key=False,
        event_types=types,
        skip_changes_by=["hospital"],
    )
    first = _qualified(session_factory, clinic, CLINIC, "IPP-1")
    second = _qualified(session_factory, hospital, HOSPITAL, "DOS-1")
    with session_scope(session_factory) as session:
        # The hospital updates its patient: the check after the write finds the same INS.
        identities.update(
            session,
            hospital,
            second,
            data=IdentityUpdate(used_name="Martin"),
            expected_version=None,
        )
    with session_scope(session_factory) as session:
        [merge] = session.scalars(select(Merge))
        assert merge.automatic and {merge.survivor_id, merge.loser_id} == {first, second}
        assert not session.get(Identity, merge.loser_id).active  # type: ignore[union-attr]
    drain(engine, FAST)
    # Its own update is not sent back; the merge, the service's decision, is.
    assert [e["type"] for e in receiver.events()] == ["identity.merged"]
    receiver.down()
