"""Patient/$match (scores and match grades) and PIXm $ihe-pix over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import merges
from identity.fhir.match import grade_of
from identity.referential.models import SourceRecord
from referentials.core.auth import SYSTEM
from referentials.core.db import session_scope
from tests.conftest import Api
from tests.identity.fhir_check import fhir_json, outcome
from tests.identity.test_fhir_patient import INS_SYSTEM, LOCAL_SYSTEM, create, qualified

GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
FHIR = {"Content-Type": "application/fhir+json"}


def patient(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resourceType": "Patient",
        "name": [{"use": "official", "family": "Lefebvre", "given": ["Hélène", "Marie"]}],
        "gender": "female",
        "birthDate": "1980-05-17",
    }
    base.update(overrides)
    return base


def match(api: Api, resource: dict[str, Any], **params: Any) -> httpx.Response:
    parameters: list[dict[str, Any]] = [{"name": "resource", "resource": resource}]
    if "only" in params:
        parameters.append({"name": "onlyCertainMatches", "valueBoolean": params["only"]})
    if "count" in params:
        parameters.append({"name": "count", "valueInteger": params["count"]})
    body = {"resourceType": "Parameters", "parameter": parameters}
    return api.post("/fhir/Patient/$match", key="identity:read", json=body, headers=FHIR)


def grades(bundle: dict[str, Any]) -> list[tuple[str, str, float]]:
    return [
        (
            e["resource"]["id"],
            next(x["valueCode"] for x in e["search"]["extension"] if x["url"] == GRADE),
            e["search"]["score"],
        )
        for e in bundle.get("entry", [])
    ]


def test_match_ranks_with_score_and_grade(api: Api) -> None:
    same = create(api)["id"]
    close = create(api, first_names=["Hélène"], birth_place_code=None, birth_date="1980-05-18")[
        "id"
    ]
    create(api, birth_name="Durand", first_names=["Paul"], sex="M")
    bundle = fhir_json(match(api, patient(extension=[_birth_place("69123")])))
    found = grades(bundle)
    assert found[0][:2] == (str(same), "certain")
    assert all(0 <= score <= 1 for _, _, score in found)
    assert [s for _, _, s in found] == sorted((s for _, _, s in found), reverse=True)
    assert str(close) in {i for i, _, _ in found}
    assert bundle["total"] == len(found)
    only = grades(fhir_json(match(api, patient(extension=[_birth_place("69123")]), only=True)))
    assert {grade for _, grade, _ in only} == {"certain"}
    assert grades(fhir_json(match(api, patient(), count=1)))[0][0] == str(same)


def _birth_place(code: str) -> dict[str, Any]:
    return {
        "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
        "valueAddress": {
            "extension": [
                {
                    "url": "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code",
                    "valueCoding": {"code": code},
                }
            ]
        },
    }


def test_match_by_qualified_ins_is_certain(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    qual = qualified(api, session_factory, birth_name="Adrun", first_names=["Zoé"])
    resource = patient(
        name=[{"use": "official", "family": "Other", "given": ["Name"]}],
        identifier=[{"system": INS_SYSTEM, "value": "275126322074974"}],
    )
    assert grades(fhir_json(match(api, resource)))[0] == (str(qual), "certain", 1.0)


def test_grades_follow_bands() -> None:
    # Scores are posterior log2-odds: the review band's middle splits probable from possible.
    assert grade_of(20.0, "match") == "certain"
    assert grade_of(3.0, "review") == "probable"
    assert grade_of(-9.0, "review") == "possible"


def test_match_refuses_bad_input(api: Api) -> None:
    outcome(match(api, {"resourceType": "Patient", "gender": "female"}), 400)
    outcome(match(api, patient(birthDate="17/05/1980")), 400)
    not_parameters = api.post(
        "/fhir/Patient/$match", key="identity:read", json=patient(), headers=FHIR
    )
    outcome(not_parameters, 400)
    outcome(api.post("/fhir/Patient/$match", key="directory:read", json={}, headers=FHIR), 403)


def pix(api: Api, source: str, *targets: str) -> httpx.Response:
    params = [("sourceIdentifier", source), *(("targetSystem", t) for t in targets)]
    return api.get("/fhir/Patient/$ihe-pix", key="identity:read", params=params)


def test_pix_gives_the_other_identifiers(api: Api, session_factory: sessionmaker[Session]) -> None:
    ident = qualified(api, session_factory, source={"finess": "690999016", "local_id": "A-1"})
    other = create(api, birth_name="Durand", source={"finess": "670999911", "local_id": "B-1"})
    with session_scope(session_factory) as session:
        session.add(SourceRecord(identity_id=ident, finess="670999911", local_id="B-2"))
    assert other["id"] != ident
    body = fhir_json(pix(api, f"{LOCAL_SYSTEM}|A-1"))
    targets = [p["valueIdentifier"] for p in body["parameter"] if p["name"] == "targetIdentifier"]
    assert {(t["system"], t["value"]) for t in targets} == {
        ("http://127.0.0.1:8000/fhir/sid/ipp/670999911", "B-2"),
        (INS_SYSTEM, "275126322074974"),
    }
    [target_id] = [p for p in body["parameter"] if p["name"] == "targetId"]
    assert target_id["valueReference"]["reference"].endswith(f"/fhir/Patient/{ident}")
    only_ins = fhir_json(pix(api, f"{LOCAL_SYSTEM}|A-1", INS_SYSTEM))
    values = [
        p["valueIdentifier"]["value"] for p in only_ins["parameter"] if "valueIdentifier" in p
    ]
    assert values == ["275126322074974"]
    by_ins = fhir_json(pix(api, f"{INS_SYSTEM}|275126322074974"))
    assert len([p for p in by_ins["parameter"] if p["name"] == "targetIdentifier"]) == 2


def test_pix_errors_and_merged_source(api: Api, session_factory: sessionmaker[Session]) -> None:
    outcome(pix(api, f"{LOCAL_SYSTEM}|nobody"), 404)
    outcome(pix(api, "urn:oid:9.9.9|A-1"), 400)
    survivor = create(api, source={"finess": "690999016", "local_id": "S-1"})["id"]
    loser = create(api, source={"finess": "690999016", "local_id": "L-1"})["id"]
    outcome(pix(api, f"{LOCAL_SYSTEM}|S-1", "urn:oid:9.9.9"), 403)
    with session_scope(session_factory) as session:
        merges.merge(session, SYSTEM, survivor_id=survivor, loser_id=loser, reason="test")
    body = fhir_json(pix(api, f"{LOCAL_SYSTEM}|L-1"))
    [target_id] = [p for p in body["parameter"] if p["name"] == "targetId"]
    assert target_id["valueReference"]["reference"].endswith(f"/Patient/{survivor}")
    values = {p["valueIdentifier"]["value"] for p in body["parameter"] if "valueIdentifier" in p}
    assert values == {"S-1"}
