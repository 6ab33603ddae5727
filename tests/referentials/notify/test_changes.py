"""Directory and ROR changes are events too: one per successful import run, to the clients
allowed to read that referential."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from referentials.core import runs
from referentials.core.auth import create_api_key, revoke_api_key
from referentials.core.db import session_scope
from referentials.core.errors import ValidationFailed
from referentials.core.notify.worker import drain
from referentials.core.settings import Settings
from referentials.directory import imports
from tests.conftest import FIXTURES
from tests.referentials.notify.conftest import FAST, subscribe
from tests.referentials.notify.receiver import Receiver

SAMPLE = FIXTURES / "directory/rpps/PS_LibreAcces_Personne_activite_202605040000.txt"
TYPES = ["directory.imported", "ror.imported"]
DIRECTORY = TYPES[:1]


def test_a_directory_import_run_is_announced_to_directory_readers(
    session_factory: sessionmaker[Session], engine: Engine, db_settings: Settings, wired: None
) -> None:
    reader, outsider = Receiver(), Receiver()
    with session_scope(session_factory) as session:
        create_api_key(session, client_name="annuaire", scopes=["directory:read"])
        create_api_key(session, client_name="dpi", scopes=["identity:read"])
        former, _ = create_api_key(session, client_name="former", scopes=["directory:read"])
    # A client that may not read what it asks for would hear nothing of it: refused, saying why.
    refusals = [
        ("annuaire", TYPES, "have no ror:read, so it would hear no ror.imported"),
        ("dpi", DIRECTORY, "have no directory:read, so it would hear no directory.imported"),
    ]
    for client, types, why in refusals:
        with pytest.raises(ValidationFailed) as refused:
            subscribe(session_factory, reader.url, client=client, key=False, event_types=types)
        assert refused.value.fields.keys() == {"event_types"}
        assert why in str(refused.value)
    subscribe(session_factory, reader.url, client="annuaire", key=False, event_types=DIRECTORY)
    # A client whose directory key is revoked after it subscribed hears nothing more.
    subscribe(session_factory, outsider.url, client="former", key=False, event_types=DIRECTORY)
    with session_scope(session_factory) as session:
        revoke_api_key(session, former.id)
        create_api_key(session, client_name="former", scopes=["identity:read"])

    summary = imports.run(
        engine, session_factory, source="rpps", location=str(SAMPLE), trigger="cli",
        settings=db_settings.directory,
    )  # fmt: skip
    # A failed run is no change: it is not announced.
    ticket = runs.start_run(
        session_factory, source="finess", location="x", owner="t", trigger="cli"
    )
    with session_scope(session_factory) as session:
        runs.finish_run(session, ticket, outcome=runs.FAILED, error="broken file")
    drain(engine, FAST)

    [event] = reader.events()
    assert event["type"] == "directory.imported"
    assert event["subjects"] == ["changes:rpps"]
    assert event["id"] == f"changes-{event['cursor']}"
    assert event["data"]["run_id"] == summary["run_id"]
    assert event["data"]["counts"]["added"] == summary["added"] > 0
    assert outsider.events() == []
    reader.down()
    outsider.down()
