"""One way to attach a local id, audited with its event: REST, the CSV import and HL7 v2."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from identity.imports.service import import_file
from identity.referential.history import ENTITY
from referentials.core import audit
from referentials.core.auth import SYSTEM
from referentials.core.db import session_scope
from tests.conftest import FIXTURES, Api
from tests.factories import identity_body

IDS = "/api/v1/identities"
CLINIC, HOSPITAL = "690999016", "670999911"


def _attached_events(api: Api) -> list[tuple[int, dict[str, Any]]]:
    events = api.get("/api/v1/events", params={"after": 0}).json()
    items = events["items"] if isinstance(events, dict) else events
    return [
        (e["identity_id"], e["payload"]) for e in items if e["type"] == "identity.local_id_attached"
    ]


def test_rest_attach_is_audited_idempotent_and_refuses_a_taken_id(api: Api) -> None:
    ident = api.post(IDS, json=identity_body()).json()["id"]
    other = api.post(
        IDS, json=identity_body(birth_name="Autre", source={"finess": CLINIC, "local_id": "T-1"})
    ).json()["id"]
    url = f"{IDS}/{ident}/local-ids"
    first = api.post(url, key="identity:write", json={"finess": CLINIC, "local_id": "N-1"})
    assert first.status_code == 201, first.text
    assert {"finess": CLINIC, "local_id": "N-1"} in first.json()["sources"]
    again = api.post(url, key="identity:write", json={"finess": CLINIC, "local_id": "N-1"})
    assert again.status_code == 200
    taken = api.post(url, key="identity:write", json={"finess": CLINIC, "local_id": "T-1"})
    assert taken.status_code == 409 and taken.json()["error"] == "local_id_taken"
    assert taken.json()["fields"]["identity_id"] == other
    history = api.get(f"{IDS}/{ident}/history").json()
    assert [h["action"] for h in history] == ["create", "local_id_attached"]
    assert _attached_events(api) == [(ident, {"finess": CLINIC})]


def test_a_key_of_an_establishment_attaches_its_own_local_ids_only(api: Api) -> None:
    ident = api.post(IDS, json=identity_body()).json()["id"]
    response = api.post(
        f"{IDS}/{ident}/local-ids",
        key="identity:write",
        json={"finess": HOSPITAL, "local_id": "X-1"},
    )
    assert response.status_code == 403
    assert api.get(f"{IDS}/{ident}").json()["sources"] == []


def test_csv_import_attaches_with_an_audit_row_and_an_event(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    source = FIXTURES / "identity" / "establishment_a.csv"
    summary = import_file(session_factory, SYSTEM, source, finess=CLINIC)
    assert summary.attached == 1
    holder = api.get(IDS, params={"source_finess": CLINIC, "local_id": "E7"}).json()["items"][0]
    with session_scope(session_factory) as session:
        actions = [
            (e.action, e.after)
            for e in audit.list_for(session, entity_type=ENTITY, entity_id=holder["id"])
        ]
    assert actions[-1] == ("local_id_attached", {"finess": CLINIC, "local_id": "E7"})
    assert _attached_events(api) == [(holder["id"], {"finess": CLINIC})]
