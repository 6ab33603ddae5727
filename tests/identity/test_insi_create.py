"""insi-create follows create's rules: same local id, INS already held, coherence of traits."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from identity.insi.creation import create_from_insi
from identity.referential.models import Identity, SourceRecord
from identity.referential.schemas import IdentityCreate
from referentials.app import create_app
from referentials.core.auth import SYSTEM, DbSession
from referentials.core.db import make_engine, session_scope
from referentials.core.settings import Settings
from tests.conftest import NO_SCHEDULER, Api, ThreadedServer
from tests.identity.test_insi import _Answer, _FakePort, _Traits

IDS = "/api/v1/identities"
ADRUN = {"birth_name": "Adrun", "first_names": ["Zoé"], "sex": "F", "birth_date": "1975-12-31"}
CLINIC, HOSPITAL = "690999016", "670999911"


def _count(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as session:
        return int(session.scalar(select(func.count()).select_from(Identity)) or 0)


def test_a_local_id_held_by_another_identity_names_it_instead_of_a_500(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    other = api.post(
        IDS,
        json={
            "birth_name": "Dupuis",
            "first_names": ["Anne"],
            "sex": "F",
            "birth_date": "1990-01-01",
            "source": {"finess": CLINIC, "local_id": "K-1"},
        },
    ).json()
    response = api.post(
        f"{IDS}/insi-create", json={**ADRUN, "source": {"finess": CLINIC, "local_id": "K-1"}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outcome"] == "existing" and body["identity"]["id"] == other["id"]
    assert _count(session_factory) == 1
    calls = api.get(f"{IDS}/{other['id']}/insi-calls").json()
    assert [c["outcome"] for c in calls] == ["no_change"]


def test_the_local_id_joins_the_identity_already_holding_the_ins(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    first = api.post(
        f"{IDS}/insi-create", json={**ADRUN, "source": {"finess": CLINIC, "local_id": "A-1"}}
    )
    assert first.status_code == 201, first.text
    made = first.json()["identity"]
    again = api.post(
        f"{IDS}/insi-create", json={**ADRUN, "source": {"finess": HOSPITAL, "local_id": "H-7"}}
    )
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "existing"
    assert again.json()["identity"]["id"] == made["id"]
    assert again.json()["identity"]["sources"] == [
        {"finess": CLINIC, "local_id": "A-1"},
        {"finess": HOSPITAL, "local_id": "H-7"},
    ]
    history = api.get(f"{IDS}/{made['id']}/history").json()
    assert [h["action"] for h in history] == ["create_from_insi", "local_id_attached"]
    events = api.get("/api/v1/events", params={"after": 0}).json()
    attached = [e for e in _items(events) if e["type"] == "identity.local_id_attached"]
    assert [(e["identity_id"], e["payload"]) for e in attached] == [
        (made["id"], {"finess": HOSPITAL})
    ]
    assert _count(session_factory) == 1


def _items(events: Any) -> list[dict[str, Any]]:
    return list(events["items"] if isinstance(events, dict) else events)


def test_traits_insi_contradicts_create_nothing(session_factory: sessionmaker[Session]) -> None:
    typed = IdentityCreate(
        birth_name="Adrun",
        first_names=["Zoé"],
        sex="F",
        birth_date="1975-12-31",
        birth_place_code="69123",
    )
    port = _FakePort(_Answer(_Traits("ADRUN", "ZOE", "ZOE", "F", "1975-12-13", "63220")))
    with session_scope(session_factory) as session:
        result = create_from_insi(session, SYSTEM, typed, port)  # type: ignore[arg-type]
        assert result.outcome == "incoherent" and result.identity is None
        assert result.differences == ["birth_date", "birth_place_code"]
        assert [c.outcome for c in result.calls] == ["incoherent"]
    assert _count(session_factory) == 0


def test_a_failed_statement_never_carries_its_values(db_settings: Settings) -> None:
    engine = make_engine(db_settings.database_url, schema=db_settings.database_schema)
    try:
        message = ""
        try:
            with engine.begin() as conn:
                row = {"identity_id": 987654321, "finess": CLINIC, "local_id": "SECRET-IPP-42"}
                conn.execute(SourceRecord.__table__.insert(), row)
        except IntegrityError as exc:
            message = str(exc)
        assert message, "the foreign key should have refused the row"
        # What SQLAlchemy adds to the driver's message: the statement, never its values.
        added = message.split("[SQL:", 1)[1]
        assert "SECRET-IPP-42" not in added and "987654321" not in added
        assert "hidden due to hide_parameters" in added
    finally:
        engine.dispose()


def test_an_unexpected_integrity_error_is_a_409_whose_log_holds_no_value(
    db_settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # PostgreSQL's own message repeats the key's values: the handler must not log it.
    app = create_app(db_settings.model_copy(update={"scheduler": NO_SCHEDULER}))

    @app.post("/test-only/orphan")
    def orphan(session: DbSession) -> None:
        session.add(SourceRecord(identity_id=987654321, finess=CLINIC, local_id="SECRET-IPP-42"))
        session.flush()

    with ThreadedServer(app) as server, caplog.at_level(logging.DEBUG):
        response = httpx.post(f"{server.url}/test-only/orphan", timeout=30)
    assert response.status_code == 409 and response.json()["error"] == "conflict"
    logged = "\n".join(
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records
    )
    assert "integrity error on POST /test-only/orphan" in logged
    assert "SECRET-IPP-42" not in logged and "987654321" not in logged
