"""RNIV: a strict-trait change clears the document check unless the request gives the document."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Api
from tests.factories import give_ins, identity_body

IDS = "/api/v1/identities"
ADRUN_PLACE = {"birth_place_code": "63220"}


def _create(api: Api, **overrides: Any) -> dict[str, Any]:
    response = api.post(IDS, json=identity_body(**overrides))
    assert response.status_code == 201, response.text
    return dict(response.json())


def _patch(api: Api, ident: dict[str, Any], **body: Any) -> dict[str, Any]:
    current = api.get(f"{IDS}/{ident['id']}").json()
    response = api.patch(
        f"{IDS}/{ident['id']}", json=body, headers={"If-Match": str(current["version"])}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _vali(api: Api, **overrides: Any) -> dict[str, Any]:
    ident = _create(api, **overrides)
    checked = api.post(f"{IDS}/{ident['id']}/validation", json={"document_type": "PA"})
    assert checked.json()["status"] == "VALI"
    return ident


def test_vali_loses_its_validation_when_a_strict_trait_changes(api: Api) -> None:
    ident = _vali(api)
    body = _patch(api, ident, birth_date="1980-05-18")
    assert body["status"] == "PROV" and body["validation_document"] is None
    assert body["validation_date"] is None
    assert body["status_change"] == {
        "before": "VALI",
        "after": "PROV",
        "reason": "strict trait(s) changed: birth_date; document validation cleared",
    }
    history = api.get(f"{IDS}/{ident['id']}/history").json()
    assert history[-1]["changes"]["validation_document"] == {"before": "PA", "after": None}


def test_a_complementary_trait_keeps_the_validation(api: Api) -> None:
    ident = _vali(api)
    body = _patch(api, ident, used_name="Martin")
    assert body["status"] == "VALI" and body["status_change"] is None


def test_the_document_given_with_the_change_supports_the_new_traits(api: Api) -> None:
    ident = _vali(api)
    body = _patch(api, ident, first_names=["Hélène"], document_type="CN", validated_at="2026-01-02")
    assert body["status"] == "VALI" and body["validation_document"] == "CN"
    assert body["validation_date"] == "2026-01-02" and body["status_change"] is None
    assert body["insi_check"] is None


def test_a_low_trust_document_with_the_change_is_refused_and_nothing_changes(api: Api) -> None:
    ident = _vali(api)
    current = api.get(f"{IDS}/{ident['id']}").json()
    response = api.patch(
        f"{IDS}/{ident['id']}",
        json={"birth_date": "1980-05-18", "document_type": "PC"},
        headers={"If-Match": str(current["version"])},
    )
    assert response.status_code == 422 and "document_type" in response.json()["fields"]
    after = api.get(f"{IDS}/{ident['id']}").json()
    assert after["status"] == "VALI" and after["birth_date"] == "1980-05-17"


def test_qual_with_a_document_is_checked_again_with_insi(api: Api) -> None:
    # ADRUN ZOE is a persona of the INSi test environment (the embedded mock).
    ident = _create(
        api, birth_name="Adrun", first_names=["Zoé"], birth_date="1975-12-31", **ADRUN_PLACE
    )
    assert api.post(f"{IDS}/{ident['id']}/insi-search").json()["outcome"] == "applied"
    api.post(f"{IDS}/{ident['id']}/validation", json={"document_type": "PA"})
    assert api.get(f"{IDS}/{ident['id']}").json()["status"] == "QUAL"
    body = _patch(api, ident, first_names=["Zoé", "Line"], document_type="CN")
    assert body["insi_check"] == "applied"
    assert body["status"] == "QUAL" and body["validation_document"] == "CN"
    assert body["ins"]["matricule"] == "275126322074974"
    # INSi's traits are the reference: its given names are stored again, verbatim.
    assert body["first_names"] == ["ZOE"]
    actions = [h["action"] for h in api.get(f"{IDS}/{ident['id']}/history").json()]
    assert actions[-2:] == ["update", "insi_qualification"]


def test_qual_whose_new_traits_insi_does_not_know_stays_vali(api: Api) -> None:
    ident = _create(
        api, birth_name="Adrun", first_names=["Zoé"], birth_date="1975-12-31", **ADRUN_PLACE
    )
    api.post(f"{IDS}/{ident['id']}/insi-search")
    api.post(f"{IDS}/{ident['id']}/validation", json={"document_type": "PA"})
    body = _patch(api, ident, birth_date="1975-12-30", document_type="CN")
    assert body["insi_check"] == "not_found"
    assert body["status"] == "VALI" and body["ins"] is None
    assert body["status_change"]["before"] == "QUAL"


def test_recup_changed_without_document_drops_to_prov(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    ident = _create(api)
    give_ins(session_factory, ident["id"])
    body = _patch(api, ident, birth_place_code="69381")
    assert body["status"] == "PROV" and body["ins"] is None
    assert body["status_change"]["reason"] == (
        "strict trait(s) changed: birth_place_code; INS cleared"
    )


def test_dout_identity_refuses_a_document_with_the_change(api: Api) -> None:
    ident = _create(api)
    api.post(f"{IDS}/{ident['id']}/attributes", json={"code": "DOUT"})
    current = api.get(f"{IDS}/{ident['id']}").json()
    response = api.patch(
        f"{IDS}/{ident['id']}",
        json={"birth_date": "1980-05-18", "document_type": "CN"},
        headers={"If-Match": str(current["version"])},
    )
    assert response.status_code == 409
