"""The audit trail: reads of identities are recorded, the trail is queryable and read-only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from referentials import scheduler
from referentials.core.audit import AuditEntry, purge_access
from referentials.core.db import session_scope, utcnow
from referentials.core.settings import Settings
from tests.conftest import Api
from tests.reliability.world import new_identity, new_pair

AUDIT = "/api/v1/audit"


def trail(api: Api, **filters: Any) -> dict[str, Any]:
    response = api.get(AUDIT, key="admin", params=filters)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_reading_an_identity_is_recorded_with_client_and_purpose(api: Api) -> None:
    ident = new_identity(api)["id"]
    before = utcnow()
    headers = {"X-Purpose-Of-Use": "TREATMENT"}
    assert api.get(f"/api/v1/identities/{ident}", key="reader", headers=headers).status_code == 200
    assert api.get(f"/api/v1/identities/{ident}", key="identity:read").status_code == 200
    reads = trail(api, entity_type="identity", entity_id=str(ident), action="read")
    assert reads["total"] == 2
    newest, oldest = reads["items"]
    assert oldest["actor"].endswith(":reader-writer") and oldest["purpose"] == "TREATMENT"
    assert newest["actor"].endswith(":client-identity:read") and newest["purpose"] is None
    assert all(item["before"] is None and item["after"] is None for item in reads["items"])
    assert oldest["at"] >= before.isoformat()[:19]
    # The identity's history lists its changes, not who looked at it.
    history = api.get(f"/api/v1/identities/{ident}/history").json()
    assert [h["action"] for h in history] == ["create"]


def test_searches_and_pair_views_record_each_identity_seen(api: Api) -> None:
    first = new_identity(api, birth_date="1950-01-02")
    found = api.get(
        "/api/v1/identities", key="reader", params={"birth_name": first["birth_name"]}
    ).json()
    assert [i["id"] for i in found["items"]] == [first["id"]]
    searched = trail(api, action="search", entity_id=str(first["id"]))
    assert searched["total"] == 1 and searched["items"][0]["actor"].endswith(":reader-writer")
    pair_id, left, right = new_pair(api)
    assert api.get(f"/api/v1/duplicates/{pair_id}", key="vigilance").status_code == 200
    viewed = trail(api, action="read")["items"]
    assert {int(i["entity_id"]) for i in viewed} == {left, right}
    assert {i["actor"].split(":", 2)[2] for i in viewed} == {"vigilance"}
    # The actor filter takes the label as listed.
    label = viewed[0]["actor"]
    assert trail(api, actor=label)["total"] == 2
    assert trail(api, actor_key_id=int(label.split(":")[1]))["total"] == 2


def test_filters_and_pages(api: Api) -> None:
    idents = [new_identity(api)["id"] for _ in range(3)]
    for ident in idents:
        api.get(f"/api/v1/identities/{ident}", key="reader")
    everything = trail(api, action="read")
    assert everything["total"] == 3
    page = trail(api, action="read", limit=2, offset=2)
    assert page["total"] == 3 and len(page["items"]) == 1
    assert page["items"][0]["entity_id"] == str(idents[0])
    creates = trail(api, action="create")
    assert {i["entity_id"] for i in creates["items"]} == {str(i) for i in idents}
    future = (utcnow() + timedelta(hours=1)).isoformat()
    assert trail(api, **{"from": future})["total"] == 0
    assert trail(api, to=future)["total"] == everything["total"] + creates["total"]
    bad = api.get(AUDIT, key="admin", params={"from": future, "to": utcnow().isoformat()})
    assert bad.status_code == 422 and "from" in bad.json()["fields"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_no_route_changes_the_trail(api: Api, method: str) -> None:
    ident = new_identity(api)["id"]
    entry_id = trail(api, entity_id=str(ident))["items"][0]["id"]
    assert api.request(method, AUDIT, key="admin", json={}).status_code == 405
    assert api.request(method, f"{AUDIT}/{entry_id}", key="admin", json={}).status_code in (
        404,
        405,
    )
    assert trail(api, entity_id=str(ident))["items"][0]["id"] == entry_id


def test_purge_drops_old_reads_and_keeps_changes(
    session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    old = utcnow() - timedelta(days=400)
    with session_scope(session_factory) as sess:
        for action in ("read", "search", "update"):
            sess.add(
                AuditEntry(at=old, actor="t", entity_type="identity", entity_id="1", action=action)
            )
        sess.add(AuditEntry(actor="t", entity_type="identity", entity_id="1", action="read"))
    settings = db_settings.model_copy(
        update={"audit": db_settings.audit.model_copy(update={"access_retention_days": 365})}
    )
    assert scheduler.purge_audit(session_factory, settings) == 2
    with session_scope(session_factory) as sess:
        left = sorted((e.action, e.at < utcnow() - timedelta(days=1)) for e in sess.scalars(
            select(AuditEntry)
        ))  # fmt: skip
    assert left == [("purge", False), ("read", False), ("update", True)]
    with session_scope(session_factory) as sess:
        assert purge_access(sess, older_than_days=0) == 0


def test_the_daily_purge_is_scheduled(scheduled_jobs: BackgroundScheduler) -> None:
    job = scheduled_jobs.get_job("audit-purge")
    assert job is not None and "hour='2'" in str(job.trigger)


def test_fhir_reads_are_recorded_too(api: Api) -> None:
    ident = new_identity(api)["id"]
    headers = {"X-Purpose-Of-Use": "COC"}
    assert api.get(f"/fhir/Patient/{ident}", key="reader", headers=headers).status_code == 200
    reads = trail(api, entity_id=str(ident), action="read")
    assert reads["total"] == 1 and reads["items"][0]["purpose"] == "COC"
