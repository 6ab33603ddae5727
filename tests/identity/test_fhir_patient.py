"""FHIR Patient read and PDQm search over real HTTP; every resource checked against R4 models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import merges
from identity.referential import links
from referentials.core.auth import SYSTEM
from referentials.core.db import session_scope
from tests.conftest import Api
from tests.factories import give_ins, identity_body
from tests.identity.fhir_check import fhir_json, outcome, validate

BASE = "/api/v1/identities"
INS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
RELIABILITY = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"
BIRTH_LIST = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name"
LOCAL_SYSTEM = "http://127.0.0.1:8000/fhir/sid/ipp/690999016"
CHFM = "690999016"
COMMUNE = "https://mos.esante.gouv.fr/NOS/TRE_R13-CommuneOM/FHIR/TRE-R13-CommuneOM"
FR_CORE_CS = "https://hl7.fr/ig/fhir/core/CodeSystem"


def create(api: Api, **overrides: Any) -> dict[str, Any]:
    response = api.post(BASE, json=identity_body(**overrides))
    assert response.status_code == 201, response.text
    return dict(response.json())


def qualified(api: Api, factory: sessionmaker[Session], **overrides: Any) -> int:
    """A QUAL identity (document checked, then INS recovered as the INSi workflow would)."""
    ident = create(api, **overrides)["id"]
    checked = api.post(f"{BASE}/{ident}/validation", json={"document_type": "CN"})
    assert checked.status_code == 200, checked.text
    give_ins(factory, ident)
    return int(ident)


def reliability(patient: dict[str, Any]) -> dict[str, Any]:
    ext = next(e for e in patient["extension"] if e["url"] == RELIABILITY)
    return {e["url"]: e for e in ext["extension"]}


def test_read_shapes_an_fr_core_patient(api: Api) -> None:
    ident = create(
        api,
        used_name="Martin",
        used_first_name="Léna",
        source={"finess": "690999016", "local_id": "IPP-7"},
    )["id"]
    patient = fhir_json(api.get(f"/fhir/Patient/{ident}", key="identity:read"))
    assert patient["meta"]["profile"] == [
        "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"
    ]
    official, usual = patient["name"]
    assert official["use"] == "official" and official["family"] == "LEFEBVRE"
    assert official["given"] == ["HELENE"]
    assert official["extension"] == [{"url": BIRTH_LIST, "valueString": "HELENE MARIE"}]
    assert usual == {"use": "usual", "family": "MARTIN", "given": ["LENA"]}
    assert patient["gender"] == "female" and patient["birthDate"] == "1980-05-17"
    assert reliability(patient)["identityStatus"]["valueCoding"]["code"] == "PROV"
    place = next(e for e in patient["extension"] if e["url"].endswith("patient-birthPlace"))
    # FR Core: the INSEE code in the address's fr-core-address-insee-code extension only.
    assert place["valueAddress"] == {
        "extension": [
            {
                "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
                "valueCoding": {"system": COMMUNE, "code": "69123"},
            }
        ]
    }
    [local] = patient["identifier"]
    assert local["system"] == LOCAL_SYSTEM and local["value"] == "IPP-7"
    assert local["assigner"]["identifier"]["value"] == "1690999016"
    assert patient["active"] is True and "link" not in patient


def test_ins_only_on_qual_and_never_for_other_statuses(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    recup = create(api)["id"]
    give_ins(session_factory, recup)
    for key in ("identity:read", "vigilance", "all"):
        patient = fhir_json(api.get(f"/fhir/Patient/{recup}", key=key))
        assert reliability(patient)["identityStatus"]["valueCoding"]["code"] == "RECUP"
        assert "275126322074974" not in str(patient)
    found = fhir_json(
        api.get("/fhir/Patient", key="all", params={"identifier": f"{INS_SYSTEM}|275126322074974"})
    )
    assert found["total"] == 0

    qual = qualified(api, session_factory, birth_name="Adrun", first_names=["Zoé"])
    patient = fhir_json(api.get(f"/fhir/Patient/{qual}", key="identity:read"))
    assert patient["meta"]["profile"][0].endswith("fr-core-patient-ins")
    [ins] = [i for i in patient["identifier"] if i["system"] == INS_SYSTEM]
    assert ins["use"] == "official" and ins["value"] == "275126322074974"
    assert ins["type"]["coding"][0]["code"] == "INS-NIR"
    status = reliability(patient)
    assert status["identityStatus"]["valueCoding"]["code"] == "QUAL"
    assert status["validationMode"]["valueCoding"]["code"] == "CN"
    assert status["methodCollection"]["valueCoding"]["code"] == "INSI"
    by_ins = fhir_json(
        api.get(
            "/fhir/Patient",
            key="identity:read",
            params={"identifier": f"{INS_SYSTEM}|275126322074974"},
        )
    )
    assert [e["resource"]["id"] for e in by_ins["entry"]] == [str(qual)]


def test_search_parameters_and_paging(api: Api) -> None:
    ids = [
        create(api, first_names=["Hélène", second])["id"] for second in ("Anne", "Berthe", "Cloé")
    ]
    other = create(api, birth_name="Durand", sex="M", first_names=["Paul"])["id"]
    search = "/fhir/Patient"
    page = fhir_json(
        api.get(search, key="identity:read", params={"family": "lefèb", "_count": "2"})
    )
    assert page["type"] == "searchset" and page["total"] == 3
    assert [e["resource"]["id"] for e in page["entry"]] == [str(i) for i in ids[:2]]
    relations = {link["relation"]: link["url"] for link in page["link"]}
    assert set(relations) == {"self", "next"}
    second = fhir_json(api.client.get(relations["next"], headers=_auth(api)))
    assert [e["resource"]["id"] for e in second["entry"]] == [str(ids[2])]
    assert {link["relation"] for link in second["link"]} == {"self", "previous"}

    def found(**params: str) -> list[str]:
        body = fhir_json(api.get(search, key="identity:read", params=params))
        return [e["resource"]["id"] for e in body.get("entry", [])]

    assert found(family="DURAND", gender="male") == [str(other)]
    assert found(family="DURAND", gender="female") == []
    assert found(given="paul") == [str(other)]
    assert found(given="helene") == [str(i) for i in ids]
    assert found(given="berth") == [str(ids[1])]
    assert found(**{"given:exact": "BERTH"}) == []
    assert found(birthdate="1980-05-17") == [str(i) for i in [*ids, other]]
    assert found(given="paul", birthdate="1980-05") == [str(other)]
    assert found(family="DURAND", birthdate="gt1980-05-17") == []
    assert found(**{"family:exact": "LEFEB"}) == []
    assert found(_id=str(other)) == [str(other)]


def _auth(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.keys['identity:read']}"}


def test_identifier_search_by_local_id_system(api: Api) -> None:
    ident = create(api, source={"finess": "690999016", "local_id": "IPP-9"})["id"]
    body = fhir_json(
        api.get(
            "/fhir/Patient", key="identity:read", params={"identifier": f"{LOCAL_SYSTEM}|IPP-9"}
        )
    )
    assert [e["resource"]["id"] for e in body["entry"]] == [str(ident)]
    assert body["entry"][0]["fullUrl"].endswith(f"/fhir/Patient/{ident}")
    unknown = api.get("/fhir/Patient", key="identity:read", params={"identifier": "urn:x|IPP-9"})
    assert fhir_json(unknown)["total"] == 0


def test_a_corsican_establishments_local_ids_work_as_any_others(api: Api) -> None:
    # FINESS numbers of Corsica start with 2A or 2B (the department), then seven digits.
    ident = create(api, source={"finess": "2A0999902", "local_id": "IPP-7"})["id"]
    system = LOCAL_SYSTEM.replace(CHFM, "2A0999902")
    found = api.get("/fhir/Patient", key="identity:read", params={"identifier": f"{system}|IPP-7"})
    assert [e["resource"]["id"] for e in fhir_json(found)["entry"]] == [str(ident)]
    # A letter elsewhere is no FINESS: refused, naming the field.
    refused = api.post(BASE, json=identity_body(source={"finess": "20A999902", "local_id": "X"}))
    assert refused.status_code == 422 and "source.finess" in str(refused.json()["fields"])


def test_merge_shows_links_both_ways(api: Api, session_factory: sessionmaker[Session]) -> None:
    survivor = create(api)["id"]
    loser = create(api, first_names=["Helene", "Marie"], birth_place_code=None)["id"]
    merge(session_factory, survivor, loser)
    gone = fhir_json(api.get(f"/fhir/Patient/{loser}", key="identity:read"))
    assert gone["active"] is False
    assert gone["link"] == [{"other": {"reference": f"Patient/{survivor}"}, "type": "replaced-by"}]
    kept = fhir_json(api.get(f"/fhir/Patient/{survivor}", key="identity:read"))
    assert kept["link"] == [{"other": {"reference": f"Patient/{loser}"}, "type": "replaces"}]
    only_active = fhir_json(
        api.get(
            "/fhir/Patient", key="identity:read", params={"family": "LEFEBVRE", "active": "true"}
        )
    )
    assert [e["resource"]["id"] for e in only_active["entry"]] == [str(survivor)]


def merge(factory: sessionmaker[Session], survivor: int, loser: int) -> None:
    with session_scope(factory) as session:
        merges.merge(session, SYSTEM, survivor_id=survivor, loser_id=loser, reason="test")


def test_errors_are_operation_outcomes(api: Api) -> None:
    outcome(api.get("/fhir/Patient/999999", key="identity:read"), 404)
    outcome(api.get("/fhir/Patient/not-a-number", key="identity:read"), 404)
    outcome(api.get("/fhir/Patient", key="identity:read", params={"birthdate": "17/05/1980"}), 400)
    outcome(api.get("/fhir/Patient", key="identity:read", params={"family": "X_1"}), 400)
    outcome(api.get("/fhir/Patient", key="identity:read", params={"_count": "many"}), 400)
    body = outcome(api.get("/fhir/Patient", key=None), 401)
    assert body["issue"][0]["code"] == "login"
    body = outcome(api.get("/fhir/Patient", key="directory:read"), 403)
    assert body["issue"][0]["code"] == "forbidden"
    outcome(api.get("/fhir/Nothing", key="identity:read"), 404)


def test_metadata_is_public_and_lists_what_is_served(api: Api) -> None:
    statement = fhir_json(api.get("/fhir/metadata", key=None))
    assert statement["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(resources) == {
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Subscription",
    }
    assert {o["name"] for o in resources["Patient"]["operation"]} == {"match", "ihe-pix"}
    params = {p["name"] for p in resources["Patient"]["searchParam"]}
    assert {"family", "given", "birthdate", "gender", "identifier", "_count"} <= params


def test_every_patient_validates_with_estimated_and_flagged_identities(api: Api) -> None:
    ident = create(api, birth_date=date(1950, 12, 31).isoformat(), birth_date_estimated=True)["id"]
    flagged = api.post(f"{BASE}/{ident}/attributes", json={"code": "HOMA"})
    assert flagged.status_code == 200, flagged.text
    patient = validate(fhir_json(api.get(f"/fhir/Patient/{ident}", key="identity:read")))
    comments = [e for e in reliability_all(patient) if e["url"] == "comment"]
    assert comments[0]["valueCodeableConcept"]["coding"][0]["code"] == "HOMA"


def reliability_all(patient: dict[str, Any]) -> list[dict[str, Any]]:
    ext = next(e for e in patient["extension"] if e["url"] == RELIABILITY)
    return list(ext["extension"])


def test_reliability_uses_the_code_systems_fr_core_2_publishes(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    """Why: comments went out under 'fr-core-v2-0445', a URL FR Core does not publish, and
    dateInterrogationINSi was missing though Socle stores the INSi query date.

    FR Core 2.x, fr-core-identity-reliability: identityStatus from fr-core-cs-identity-status,
    comment from fr-core-cs-identity-status-comment, dateInterrogationINSi a date."""
    ident = create(api, birth_place_code="99134")["id"]
    for code in ("HOMA", "DOUT"):
        added = api.post(f"{BASE}/{ident}/attributes", json={"code": code}, key="all")
        assert added.status_code == 200, added.text
    give_ins(session_factory, ident)
    patient = fhir_json(api.get(f"/fhir/Patient/{ident}", key="identity:read"))
    ext = next(e for e in patient["extension"] if e["url"] == RELIABILITY)["extension"]
    status = next(e for e in ext if e["url"] == "identityStatus")["valueCoding"]
    assert status["system"] == f"{FR_CORE_CS}/fr-core-cs-identity-status"
    comments = [e["valueCodeableConcept"]["coding"][0] for e in ext if e["url"] == "comment"]
    assert {c["system"] for c in comments} == {f"{FR_CORE_CS}/fr-core-cs-identity-status-comment"}
    assert [c["code"] for c in comments] == ["DOUT", "HOMA"]
    assert all(c["display"] for c in comments)
    fictive = create(api, birth_name="Fictif")["id"]
    assert api.post(f"{BASE}/{fictive}/attributes", json={"code": "FICT"}, key="all").is_success
    other = fhir_json(api.get(f"/fhir/Patient/{fictive}", key="identity:read"))
    ext_fict = next(e for e in other["extension"] if e["url"] == RELIABILITY)["extension"]
    [fict] = [e["valueCodeableConcept"]["coding"][0] for e in ext_fict if e["url"] == "comment"]
    assert fict["code"] == "FICT" and fict["system"].endswith("/fr-core-cs-identity-status-comment")
    queried = next(e for e in ext if e["url"] == "dateInterrogationINSi")["valueDate"]
    assert queried == datetime.now(UTC).date().isoformat()
    # Born abroad: the INSEE country code, from the country table.
    place = next(e for e in patient["extension"] if e["url"].endswith("patient-birthPlace"))
    coding = place["valueAddress"]["extension"][0]["valueCoding"]
    assert coding == {
        "system": "https://mos.esante.gouv.fr/NOS/TRE_R20-Pays/FHIR/TRE-R20-Pays",
        "code": "99134",
    }


def test_a_merged_identity_carries_the_desa_comment(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    """FR Core: a deactivated identity is commented DESA in fr-core-cs-identity-status-comment."""
    kept = create(api)["id"]
    gone = create(api, source={"finess": "690999016", "local_id": "IPP-DESA"})["id"]
    merge(session_factory, kept, gone)
    patient = fhir_json(api.get(f"/fhir/Patient/{gone}", key="identity:read"))
    ext = next(e for e in patient["extension"] if e["url"] == RELIABILITY)["extension"]
    [desa] = [e["valueCodeableConcept"]["coding"][0] for e in ext if e["url"] == "comment"]
    assert desa == {
        "system": f"{FR_CORE_CS}/fr-core-cs-identity-status-comment",
        "code": "DESA",
        "display": "Identité désactivée",
    }


def test_linked_local_ids_show_as_seealso_until_unlinked(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    first = create(api, source={"finess": CHFM, "local_id": "IPP-76"})["id"]
    second = create(api, first_names=["Helene"], source={"finess": CHFM, "local_id": "IPP-77"})
    with session_scope(session_factory) as session:
        one, other = (links.record_of(session, CHFM, x) for x in ("IPP-76", "IPP-77"))
        assert one is not None and other is not None
        links.link(session, SYSTEM, one, other, control_id="A24-9", reason="one patient")
    for mine, theirs in ((first, second["id"]), (second["id"], first)):
        patient = validate(fhir_json(api.get(f"/fhir/Patient/{mine}", key="identity:read")))
        assert patient["link"] == [{"other": {"reference": f"Patient/{theirs}"}, "type": "seealso"}]
    with session_scope(session_factory) as session:
        links.unlink(session, SYSTEM, one, other, reason="two patients")
    assert "link" not in fhir_json(api.get(f"/fhir/Patient/{first}", key="identity:read"))
