"""The identity API over real HTTP: creation, lookups, changes, validation, attributes."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Api
from tests.factories import give_ins, identity_body

BASE = "/api/v1/identities"


def create(api: Api, **overrides: object) -> dict:
    response = api.post(BASE, json=identity_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def test_creation_stores_traits_in_ins_charset_as_prov(api: Api) -> None:
    body = create(api, used_name="Dupont-Lajoie", used_first_name="Léna")
    assert body["birth_name"] == "LEFEBVRE"
    assert body["first_names"] == ["HELENE", "MARIE"]
    assert body["first_name"] == "HELENE"
    assert body["used_name"] == "DUPONT-LAJOIE"
    assert body["status"] == "PROV"
    assert body["attributes"] == []
    assert body["version"] == 1 and body["active"] is True and body["ins"] is None
    again = api.get(f"{BASE}/{body['id']}")
    assert again.status_code == 200 and again.json()["birth_name"] == "LEFEBVRE"
    assert again.headers["ETag"] == "1"


def test_creation_with_the_same_source_is_idempotent(api: Api) -> None:
    source = {"finess": "690999016", "local_id": "IPP-42"}
    first = api.post(BASE, json=identity_body(source=source))
    second = api.post(BASE, json=identity_body(source=source, birth_name="Autre"))
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["created"] is False
    found = api.get(BASE, params={"birth_name": "lefebvre"}).json()
    assert found["total"] == 1


def test_refused_character_gives_422_naming_field_and_character(api: Api) -> None:
    response = api.post(BASE, json=identity_body(first_names=["Jean", "Paul_2"]))
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["fields"]["first_names[1]"]["character"] == "_"
    assert "Paul" not in response.text  # the input is not echoed back


def test_bad_birth_place_future_date_and_old_date_are_refused(api: Api) -> None:
    bad_cog = api.post(BASE, json=identity_body(birth_place_code="20123"))
    assert bad_cog.status_code == 422 and "birth_place_code" in bad_cog.json()["fields"]
    future = api.post(BASE, json=identity_body(birth_date="2999-01-01"))
    assert future.status_code == 422 and "birth_date" in future.json()["fields"]
    old = api.post(BASE, json=identity_body(birth_date="1889-12-31"))
    assert old.status_code == 422 and "birth_date" in old.json()["fields"]


def test_request_validation_errors_use_the_error_shape(api: Api) -> None:
    response = api.post(BASE, json={"birth_name": "X", "sex": "Z"})
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"error", "detail", "fields"}
    assert "first_names" in body["fields"] and "sex" in body["fields"]


def test_lookup_by_local_id_and_search_on_normalised_traits(api: Api) -> None:
    created = create(api, source={"finess": "670999911", "local_id": "A-1"})
    by_local = api.get(BASE, params={"source_finess": "670999911", "local_id": "A-1"})
    assert by_local.status_code == 200 and by_local.json()["items"][0]["id"] == created["id"]
    missing = api.get(BASE, params={"source_finess": "670999911", "local_id": "nope"})
    assert missing.status_code == 404
    found = api.get(
        BASE, params={"birth_name": "LEFÈBVRE", "first_name": "marie", "birth_date": "1980-05-17"}
    )
    assert [i["id"] for i in found.json()["items"]] == [created["id"]]
    assert (
        api.get(BASE, params={"birth_name": "LEFEBVRE", "first_name": "PAUL"}).json()["total"] == 0
    )
    assert api.get(BASE).status_code == 422


def test_patch_needs_if_match_and_stale_version_is_409(api: Api) -> None:
    created = create(api)
    url = f"{BASE}/{created['id']}"
    assert api.patch(url, json={"used_name": "Martin"}).status_code == 428
    ok = api.patch(url, json={"used_name": "Martin"}, headers={"If-Match": "1"})
    assert ok.status_code == 200 and ok.json()["version"] == 2
    assert ok.json()["used_name"] == "MARTIN"
    stale = api.patch(url, json={"used_name": "Durand"}, headers={"If-Match": "1"})
    assert stale.status_code == 409 and stale.json()["error"] == "stale_version"
    assert api.get(url).json()["used_name"] == "MARTIN"


def test_strict_trait_change_on_recup_drops_to_prov_and_clears_ins(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    created = create(api)
    give_ins(session_factory, created["id"])
    assert api.get(f"{BASE}/{created['id']}").json()["status"] == "RECUP"
    response = api.patch(
        f"{BASE}/{created['id']}", json={"birth_date": "1980-05-18"}, headers={"If-Match": "2"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "PROV" and body["ins"] is None
    assert body["status_change"]["before"] == "RECUP"
    assert "birth_date" in body["status_change"]["reason"]


def test_strict_trait_change_on_qual_drops_to_prov(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    created = create(api)
    api.post(f"{BASE}/{created['id']}/validation", json={"document_type": "CN"})
    give_ins(session_factory, created["id"])
    current = api.get(f"{BASE}/{created['id']}").json()
    assert current["status"] == "QUAL"
    response = api.patch(
        f"{BASE}/{created['id']}",
        json={"first_names": ["Hélène"]},
        headers={"If-Match": str(current["version"])},
    )
    # The document checked the old traits: both the INS and the validation are cleared.
    body = response.json()
    assert body["status"] == "PROV" and body["ins"] is None
    assert body["validation_document"] is None
    assert body["status_change"]["before"] == "QUAL"
    assert "document validation cleared" in body["status_change"]["reason"]


def test_complementary_trait_change_keeps_status(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    created = create(api)
    give_ins(session_factory, created["id"])
    response = api.patch(
        f"{BASE}/{created['id']}", json={"used_name": "Martin"}, headers={"If-Match": "2"}
    )
    assert response.json()["status"] == "RECUP" and response.json()["status_change"] is None


def test_validation_with_high_trust_document(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    prov = create(api)
    vali = api.post(f"{BASE}/{prov['id']}/validation", json={"document_type": "PA"})
    assert vali.status_code == 200 and vali.json()["status"] == "VALI"
    assert vali.json()["validation_document"] == "PA"
    recup = create(api, birth_name="Autre")
    give_ins(session_factory, recup["id"])
    qual = api.post(f"{BASE}/{recup['id']}/validation", json={"document_type": "CN"})
    assert qual.json()["status"] == "QUAL"
    assert qual.json()["status_change"] == {
        "before": "RECUP",
        "after": "QUAL",
        "reason": "identity document checked (CN)",
    }


def test_validation_with_a_low_trust_document_is_refused_with_reason(api: Api) -> None:
    created = create(api)
    response = api.post(f"{BASE}/{created['id']}/validation", json={"document_type": "PC"})
    assert response.status_code == 422
    assert "not a high-trust" in response.json()["detail"]
    assert api.get(f"{BASE}/{created['id']}").json()["status"] == "PROV"


def test_dout_forces_prov_and_invalidates_ins(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    created = create(api)
    api.post(f"{BASE}/{created['id']}/validation", json={"document_type": "PA"})
    give_ins(session_factory, created["id"])
    response = api.post(f"{BASE}/{created['id']}/attributes", json={"code": "DOUT"})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "PROV" and body["ins"] is None and body["attributes"] == ["DOUT"]
    refused = api.post(f"{BASE}/{created['id']}/validation", json={"document_type": "PA"})
    assert refused.status_code == 409


def test_attribute_combinations_enforced_over_http(api: Api) -> None:
    created = create(api)
    url = f"{BASE}/{created['id']}/attributes"
    assert api.post(url, json={"code": "HOMA"}).status_code == 200
    assert api.post(url, json={"code": "DOUT"}).json()["attributes"] == ["DOUT", "HOMA"]
    fict = api.post(url, json={"code": "FICT"})
    assert fict.status_code == 422 and "forbidden" in fict.json()["detail"]
    removed = api.delete(f"{url}/DOUT")
    assert removed.status_code == 200 and removed.json()["attributes"] == ["HOMA"]
    assert api.delete(f"{url}/DOUT").status_code == 404


def test_homa_keeps_status(api: Api, session_factory: sessionmaker[Session]) -> None:
    created = create(api)
    give_ins(session_factory, created["id"])
    body = api.post(f"{BASE}/{created['id']}/attributes", json={"code": "HOMA"}).json()
    assert body["status"] == "RECUP"


def test_ins_only_exposed_for_qual_except_to_identity_vigilance(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    created = create(api)
    give_ins(session_factory, created["id"])
    url = f"{BASE}/{created['id']}"
    assert api.get(url, key="identity:read").json()["ins"] is None
    staff = api.get(url, key="vigilance").json()["ins"]
    assert staff["matricule"] == "275126322074974"
    assert staff["exposed_because"] == "identity_vigilance"
    api.post(f"{url}/validation", json={"document_type": "PA"})
    ins = api.get(url, key="identity:read").json()["ins"]
    assert ins["matricule"] == "275126322074974" and ins["oid"] == "1.2.250.1.213.1.4.8"
    assert ins["exposed_because"] == "qualified"


def test_history_tells_who_when_what_and_why(api: Api) -> None:
    created = create(api)
    url = f"{BASE}/{created['id']}"
    api.patch(url, json={"used_name": "Martin", "reason": "mariage"}, headers={"If-Match": "1"})
    api.post(f"{url}/validation", json={"document_type": "PA"})
    history = api.get(f"{url}/history").json()
    assert [h["action"] for h in history] == ["create", "update", "validate"]
    update = history[1]
    assert update["actor"].endswith("client-all") and update["reason"] == "mariage"
    assert update["changes"]["used_name"] == {"before": None, "after": "MARTIN"}
    assert history[2]["changes"]["status"] == {"before": "PROV", "after": "VALI"}


def test_events_follow_creation_and_status_changes(api: Api) -> None:
    created = create(api)
    api.post(f"{BASE}/{created['id']}/validation", json={"document_type": "PA"})
    page = api.get("/api/v1/events", params={"after": 0}).json()
    types = [e["type"] for e in page["items"] if e["identity_id"] == created["id"]]
    assert types == ["identity.created", "identity.updated", "identity.status_changed"]
    after = api.get("/api/v1/events", params={"after": page["next_cursor"]}).json()
    assert after["items"] == [] and after["next_cursor"] == page["next_cursor"]


def test_unknown_identity_is_404(api: Api) -> None:
    response = api.get(f"{BASE}/999999")
    assert response.status_code == 404 and response.json()["error"] == "identity_not_found"
