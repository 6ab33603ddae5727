"""FHIR R4 Subscription over real HTTP: create, read, search, update, delete, what is refused and
why;
every resource checked against the R4 models."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.identity.fhir_check import fhir_json, outcome, validate
from tests.identity.test_fhir_patient import LOCAL_SYSTEM

FHIR = {"Content-Type": "application/fhir+json"}
# The deployment's namespace: the test settings' base_url (the default one).
SKIP = "http://127.0.0.1:8000/fhir/StructureDefinition/subscription-skip-changes-by"


def subscription(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "DPI of CHFM follows its patients' merges",
        "criteria": "Patient?event=merged,unmerged",
        "channel": {
            "type": "rest-hook",
            "endpoint": "https://dpi.chfm.example/fhir/notify",
            "payload": "application/fhir+json",
            "header": ["Authorization: Bearer receiver-token"],
        },
    }
    body.update(overrides)
    return validate(body)


def post(api: Api, body: dict[str, Any], key: str = "admin") -> Any:
    return api.post("/fhir/Subscription", key=key, json=body, headers=FHIR)


def test_create_read_search_delete(api: Api) -> None:
    created = post(api, subscription())
    body = fhir_json(created, 201)
    sub_id = body["id"]
    assert created.headers["location"].endswith(f"/fhir/Subscription/{sub_id}")
    assert body["status"] == "active"
    assert body["criteria"] == "Patient?event=merged,unmerged"
    assert body["channel"]["header"] == ["Authorization: Bearer receiver-token"]
    assert fhir_json(api.get(f"/fhir/Subscription/{sub_id}", key="admin")) == body
    # Stored as a notification subscription of the caller's client, channel fhir.
    stored = api.get(f"/api/v1/subscriptions/{sub_id}", key="admin")
    assert stored.status_code == 200, stored.text
    assert stored.json()["channel"] == "fhir" and stored.json()["client_name"] == "client-admin"
    assert stored.json()["event_types"] == ["identity.merged", "identity.unmerged"]
    paused = fhir_json(post(api, subscription(status="off", criteria="Patient")), 201)
    assert paused["status"] == "off"
    found = fhir_json(api.get("/fhir/Subscription", key="admin"))
    assert found["type"] == "searchset" and found["total"] == 2
    only_off = fhir_json(api.get("/fhir/Subscription?status=off", key="admin"))
    assert [e["resource"]["id"] for e in only_off["entry"]] == [paused["id"]]
    by_url = fhir_json(
        api.get("/fhir/Subscription", key="admin", params={"url": "https://nowhere.example/"})
    )
    assert by_url["total"] == 0
    # A webhook subscription is not a FHIR Subscription.
    hook = api.post(
        "/api/v1/subscriptions",
        key="admin",
        json={
            "client_name": "client-identity:merge",
            "channel": "webhook",
            "config": {"url": "https://hub.example/hook"},
            "event_types": ["identity.merged"],
        },
    )
    assert hook.status_code == 201, hook.text
    outcome(api.get(f"/fhir/Subscription/{hook.json()['id']}", key="admin"), 404)
    assert fhir_json(api.get("/fhir/Subscription", key="admin"))["total"] == 2
    assert api.delete(f"/fhir/Subscription/{sub_id}", key="admin").status_code == 204
    outcome(api.get(f"/fhir/Subscription/{sub_id}", key="admin"), 404)
    outcome(api.get("/fhir/Subscription?criteria=Patient", key="admin"), 400)


def test_the_skip_extension_is_stored_and_read_back(api: Api) -> None:
    skips = [{"url": SKIP, "valueString": n} for n in ("client-all", "system")]
    created = fhir_json(post(api, subscription(extension=skips)), 201)
    # Stored as the subscription's skip_changes_by (sorted, as the subscriptions API keeps it).
    stored = api.get(f"/api/v1/subscriptions/{created['id']}", key="admin").json()
    assert stored["skip_changes_by"] == ["client-all", "system"]
    assert created["extension"] == skips
    assert fhir_json(api.get(f"/fhir/Subscription/{created['id']}", key="admin")) == created
    found = fhir_json(api.get("/fhir/Subscription", key="admin"))
    assert found["entry"][0]["resource"]["extension"] == skips
    plain = fhir_json(post(api, subscription()), 201)
    assert "extension" not in plain


def test_establishments_narrow_by_local_id_system(api: Api) -> None:
    body = subscription(criteria=f"Patient?identifier={LOCAL_SYSTEM}|")
    created = fhir_json(post(api, body), 201)
    stored = api.get(f"/api/v1/subscriptions/{created['id']}", key="admin")
    assert stored.status_code == 200, stored.text
    assert stored.json()["establishments"] == ["690999016"]
    # No event= : every identity event, the links of two local ids (PAM France A24/A37) too.
    assert len(stored.json()["event_types"]) == 9
    assert {"identity.local_ids_linked", "identity.local_ids_unlinked"} <= set(
        stored.json()["event_types"]
    )
    links_only = subscription(criteria="Patient?event=local_ids_linked,identity.local_ids_unlinked")
    stored = api.get(
        f"/api/v1/subscriptions/{fhir_json(post(api, links_only), 201)['id']}", key="admin"
    )
    assert stored.json()["event_types"] == [
        "identity.local_ids_linked",
        "identity.local_ids_unlinked",
    ]


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"criteria": "Practitioner?"}, 400, "only Patient changes"),
        ({"criteria": "Patient?family=martin"}, 400, "parameter 'family' is not supported"),
        ({"criteria": "Patient?event=deleted"}, 400, "unknown event 'deleted'"),
        ({"criteria": "Patient?identifier=urn:oid:1.2.3|"}, 400, "not the local-id system"),
        ({"criteria": f"Patient?identifier={LOCAL_SYSTEM}|IPP-1"}, 400, "followed by '|'"),
        ({"status": "error"}, 400, "send requested"),
        ({"end": "2030-01-01T00:00:00Z"}, 400, "not supported: end"),
        ({"contact": [{"system": "email", "value": "a@b.fr"}]}, 400, "not supported: contact"),
        ({"reason": ""}, 400, "reason: is required"),
        (
            {"extension": [{"url": "https://other.example/ext", "valueString": "x"}]},
            400,
            "extension[0]: 'https://other.example/ext' is not supported; supported: "
            "http://127.0.0.1:8000/fhir/StructureDefinition/subscription-skip-changes-by",
        ),
        ({"extension": [{"url": SKIP, "valueCode": "client-all"}]}, 400, "one valueString"),
        ({"extension": [{"url": SKIP, "valueString": " "}]}, 400, "one valueString"),
        ({"extension": {"url": SKIP}}, 400, "extension: must be a list"),
        (
            {"extension": [{"url": SKIP, "valueString": "client-x"}]},
            400,
            "no API key belongs to the client 'client-x'",
        ),
        ({"modifierExtension": []}, 400, "not supported: modifierExtension"),
        (
            {"extension": [{"url": SKIP, "valueString": f"tool-{i}"} for i in range(51)]},
            400,
            "extension: List should have at most 50 items",
        ),
        ({"channel": {"type": "websocket"}}, 400, "only rest-hook"),
        (
            {"channel": {"type": "rest-hook", "endpoint": "http://dpi.example/x"}},
            400,
            "channel.payload: must be application/fhir+json",
        ),
        (
            {
                "channel": {
                    "type": "rest-hook",
                    "endpoint": "http://dpi.example/x",
                    "payload": "application/fhir+json",
                }
            },
            400,
            "channel.endpoint: http is allowed on a loopback address only",
        ),
        (
            {
                "channel": {
                    "type": "rest-hook",
                    "endpoint": "https://dpi.example/x",
                    "payload": "application/fhir+json",
                    "header": ["Content-Type: text/plain"],
                }
            },
            400,
            "channel.header: Content-Type is set by Socle",
        ),
    ],
)
def test_what_is_refused_says_what_is_wrong(
    api: Api, change: dict[str, Any], status: int, words: str
) -> None:
    body = {**subscription(), **change}
    answer = outcome(post(api, body), status)
    assert words in answer["issue"][0]["diagnostics"]
    assert fhir_json(api.get("/fhir/Subscription", key="admin"))["total"] == 0


def test_subscriptions_need_the_admin_scope(api: Api) -> None:
    outcome(post(api, subscription(), key="identity:read"), 403)
    outcome(api.get("/fhir/Subscription", key="identity:merge"), 403)
    outcome(api.get("/fhir/Subscription", key=None), 401)


def test_the_capability_statement_lists_subscription(api: Api) -> None:
    statement = fhir_json(api.get("/fhir/metadata", key=None))
    [resource] = [r for r in statement["rest"][0]["resource"] if r["type"] == "Subscription"]
    assert {i["code"] for i in resource["interaction"]} == {
        "create",
        "read",
        "search-type",
        "update",
        "delete",
    }
    assert resource["updateCreate"] is False
    assert "event=created,updated" in resource["documentation"]
    assert "/fhir/StructureDefinition/subscription-skip-changes-by" in resource["documentation"]


def put(api: Api, sub_id: str, body: dict[str, Any], key: str = "admin") -> Any:
    return api.put(f"/fhir/Subscription/{sub_id}", key=key, json=body, headers=FHIR)


def test_an_update_replaces_the_subscription_and_keeps_it_its_clients(api: Api) -> None:
    sub_id = fhir_json(post(api, subscription()), 201)["id"]
    skip = {"url": SKIP, "valueString": "client-identity:write"}
    changed = subscription(
        id=sub_id,
        status="off",
        criteria="Patient?event=created,updated",
        channel={
            "type": "rest-hook",
            "endpoint": "https://dpi.chfm.example/fhir/notify-v2",
            "payload": "application/fhir+json",
        },
        extension=[skip],
    )
    updated = fhir_json(put(api, sub_id, changed))
    assert (updated["id"], updated["status"]) == (sub_id, "off")
    assert updated["criteria"] == "Patient?event=created,updated"
    assert updated["channel"]["endpoint"].endswith("/notify-v2")
    assert "header" not in updated["channel"], "headers left out are no longer sent"
    assert updated["extension"] == [skip]
    assert fhir_json(api.get(f"/fhir/Subscription/{sub_id}", key="admin")) == updated
    stored = api.get(f"/api/v1/subscriptions/{sub_id}", key="admin").json()
    assert stored["event_types"] == ["identity.created", "identity.updated"]
    assert stored["status"] == "paused" and stored["client_name"] == "client-admin"
    assert stored["skip_changes_by"] == ["client-identity:write"]
    # An update without the extension clears the skipped clients; requested resumes it.
    again = fhir_json(put(api, sub_id, subscription(id=sub_id)))
    assert again["status"] == "active" and "extension" not in again
    assert api.get(f"/api/v1/subscriptions/{sub_id}", key="admin").json()["skip_changes_by"] == []


def test_an_update_is_refused_with_what_is_wrong_and_changes_nothing(api: Api) -> None:
    sub_id = fhir_json(post(api, subscription()), 201)["id"]
    before = fhir_json(api.get(f"/fhir/Subscription/{sub_id}", key="admin"))
    nobody = [{"url": SKIP, "valueString": "nobody"}]
    for body, words in [
        (subscription(), f'id: must be "{sub_id}", the id in the URL'),  # no id in the body
        (subscription(id=str(int(sub_id) + 1)), f'id: must be "{sub_id}"'),
        (subscription(id=sub_id, criteria="Observation"), "criteria: "),
        (subscription(id=sub_id, status="error"), "status: send requested (or off)"),
        (subscription(id=sub_id, extension=nobody), "no API key belongs to the client 'nobody'"),
    ]:
        refused = outcome(put(api, sub_id, body), 400)
        assert words in refused["issue"][0]["diagnostics"], refused
    insecure = subscription(id=sub_id)
    insecure["channel"] = {**insecure["channel"], "endpoint": "http://dpi.chfm.example/notify"}
    told = outcome(put(api, sub_id, insecure), 400)["issue"][0]["diagnostics"]
    assert told.startswith("channel.endpoint: http is allowed on a loopback address only")
    assert fhir_json(api.get(f"/fhir/Subscription/{sub_id}", key="admin")) == before
    # No update of what is not a stored FHIR Subscription, nor by a non-admin key.
    outcome(put(api, "999999", subscription(id="999999")), 404)
    assert put(api, sub_id, subscription(id=sub_id), key="identity:read").status_code == 403
