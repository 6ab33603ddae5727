"""Practitioner, PractitionerRole and Organization over FHIR from the imported sample extracts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.identity.fhir_check import fhir_json, outcome
from tests.referentials.directory.conftest import FINESS_JSON, RPPS, Importer

IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
IDNST = "urn:oid:1.2.250.1.71.4.2.2"
KEY = "directory:read"
AS = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition"
NOS = "https://mos.esante.gouv.fr/NOS"
ORG_TYPE = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-type-organisation"


@pytest.fixture()
def loaded(run_import: Importer) -> None:
    run_import("rpps", RPPS)
    run_import("finess", FINESS_JSON)


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


@pytest.mark.usefixtures("loaded")
def test_practitioner_read_and_search(api: Api) -> None:
    doctor = fhir_json(api.get("/fhir/Practitioner/819990000028", key=KEY))
    systems = {i["system"]: i for i in doctor["identifier"]}
    assert systems[IDNPS]["value"] == "819990000028"
    assert systems[IDNPS]["type"]["coding"][0]["code"] == "IDNPS"
    assert systems["https://rpps.esante.gouv.fr"]["value"] == "19990000028"
    assert doctor["name"] == [
        {
            "use": "usual",
            "family": "EXEMPLE-MARCOUX",
            "given": ["Léonie"],
            "prefix": ["MME"],
            "suffix": ["DR"],
        }
    ]
    codes = {c["code"] for q in doctor["qualification"] for c in q["code"]["coding"]}
    assert {"10", "SM04"} <= codes
    assert any(a.get("postalCode") == "69400" for a in doctor["address"])
    by_rpps = fhir_json(
        api.get("/fhir/Practitioner", key=KEY, params={"identifier": f"{IDNPS}|819990000028"})
    )
    assert ids(by_rpps) == ["819990000028"]
    assert ids(fhir_json(api.get("/fhir/Practitioner", key=KEY, params={"family": "echant"}))) == [
        "819990000093"
    ]
    nurses = fhir_json(api.get("/fhir/Practitioner", key=KEY, params={"role": "60"}))
    assert ids(nurses) == ["819990000036"]
    other = fhir_json(api.get("/fhir/Practitioner", key=KEY, params={"identifier": "urn:x|1"}))
    assert other["total"] == 0
    adeli = fhir_json(api.get("/fhir/Practitioner/0699199907", key=KEY))
    assert [i["system"] for i in adeli["identifier"]] == [IDNPS]


@pytest.mark.usefixtures("loaded")
def test_practitioner_roles(api: Api) -> None:
    roles = fhir_json(
        api.get(
            "/fhir/PractitionerRole", key=KEY, params={"practitioner": "Practitioner/819990000028"}
        )
    )
    assert ids(roles) == ["819990000028-1", "819990000028-2"]
    first = fhir_json(api.get("/fhir/PractitionerRole/819990000028-1", key=KEY))
    assert first["practitioner"]["reference"] == "Practitioner/819990000028"
    assert first["organization"]["reference"] == "Organization/690999016"
    codes = {
        c["coding"][0]["system"].rsplit("/", 1)[1]: c["coding"][0]["code"] for c in first["code"]
    }
    assert codes["TRE-G15-ProfessionSante"] == "10" and codes["TRE-R23-ModeExercice"] == "S"
    assert first["specialty"][0]["coding"][0]["code"] == "SM04"
    at_site = fhir_json(
        api.get("/fhir/PractitionerRole", key=KEY, params={"organization": "380999110"})
    )
    assert sorted(
        r["practitioner"]["reference"] for r in (e["resource"] for e in at_site["entry"])
    ) == [
        "Practitioner/819990000036",
        "Practitioner/819990000085",
    ]
    outcome(api.get("/fhir/PractitionerRole", key=KEY), 400)
    outcome(api.get("/fhir/PractitionerRole/819990000028-9", key=KEY), 404)


@pytest.mark.usefixtures("loaded")
def test_organization_read_and_search(api: Api) -> None:
    site = fhir_json(api.get("/fhir/Organization/690999016", key=KEY))
    systems = {i["system"]: i["value"] for i in site["identifier"]}
    assert systems[IDNST] == "1690999016"
    assert systems["https://finess.esante.gouv.fr"] == "690999016"
    assert site["name"] == "CH FICTIF DES MONTS"
    [address] = site["address"]
    assert (
        address["postalCode"] == "69400"
        and address["extension"][0]["valueCoding"]["code"] == "69264"
    )
    assert site["partOf"]["identifier"]["value"] == "690999008"
    by_idnst = fhir_json(
        api.get("/fhir/Organization", key=KEY, params={"identifier": f"{IDNST}|1690999016"})
    )
    assert ids(by_idnst) == ["690999016"]
    by_name = fhir_json(api.get("/fhir/Organization", key=KEY, params={"name": "ch fictif"}))
    assert "690999016" in ids(by_name)
    page = fhir_json(api.get("/fhir/Organization", key=KEY, params={"_count": "1"}))
    assert len(page["entry"]) == 1 and page["total"] > 1
    assert {link["relation"] for link in page["link"]} == {"self", "next"}


def test_directory_errors_are_operation_outcomes(api: Api) -> None:
    outcome(api.get("/fhir/Practitioner/000", key=KEY), 404)
    outcome(api.get("/fhir/Organization/000000000", key=KEY), 404)
    outcome(api.get("/fhir/Organization/690999016", key="identity:read"), 403)
    outcome(api.get("/fhir/Practitioner", key=None), 401)


@pytest.mark.usefixtures("loaded")
def test_resources_claim_the_annuaire_sante_profiles(api: Api) -> None:
    """Why: Annuaire resources carried no meta.profile. Annuaire Santé FHIR guide: a resource
    names the profile it follows (as-practitioner, as-practitionerrole, as-organization)."""
    for path, profile in (
        ("/fhir/Practitioner/819990000028", "as-practitioner"),
        ("/fhir/PractitionerRole/819990000028-1", "as-practitionerrole"),
        ("/fhir/Organization/690999016", "as-organization"),
        ("/fhir/Organization/690999008", "as-organization"),
    ):
        resource = fhir_json(api.get(path, key=KEY))
        assert resource["meta"]["profile"] == [f"{AS}/{profile}"], path
    statement = fhir_json(api.get("/fhir/metadata", key=None))
    served = {r["type"]: r.get("supportedProfile") for r in statement["rest"][0]["resource"]}
    assert served["PractitionerRole"] == [f"{AS}/as-practitionerrole"]


@pytest.mark.usefixtures("loaded")
def test_role_code_is_one_concept_per_slice(api: Api) -> None:
    """Why: profession, category, mode and function were packed into one CodeableConcept.
    as-practitionerrole slices ``code`` by value: genreActivite (TRE_R22), modeExercice
    (TRE_R23), fonction (TRE_R21), and FR Core's profession (TRE_G15) and category (TRE_R09),
    each its own CodeableConcept with one coding."""
    role = fhir_json(api.get("/fhir/PractitionerRole/819990000028-1", key=KEY))
    assert all(len(concept["coding"]) == 1 for concept in role["code"])
    codes = [(c["coding"][0]["system"], c["coding"][0]["code"]) for c in role["code"]]
    assert codes == [
        (f"{NOS}/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante", "10"),
        (f"{NOS}/TRE_R09-CategorieProfessionnelle/FHIR/TRE-R09-CategorieProfessionnelle", "C"),
        (f"{NOS}/TRE_R22-GenreActivite/FHIR/TRE-R22-GenreActivite", "GENR01"),
        (f"{NOS}/TRE_R23-ModeExercice/FHIR/TRE-R23-ModeExercice", "S"),
        (f"{NOS}/TRE_R21-Fonction/FHIR/TRE-R21-Fonction", "FON-33"),
    ]
    # as-practitionerrole: the activity carries an identifier (Socle's id for it: the RPPS+
    # extract gives none).
    [identifier] = role["identifier"]
    assert identifier["value"] == "819990000028-1"
    assert identifier["system"].endswith("/fhir/sid/situation-exercice")


@pytest.mark.usefixtures("loaded")
def test_legal_entity_is_an_organization_the_site_references(api: Api) -> None:
    """Why: legal entities were only a logical reference, and the type slices were missing.
    fr-core-organization slices ``type``: organizationType (GEOGRAPHICAL-ENTITY /
    LEGAL-ENTITY) and categorieEtablissementRASS (TRE_R66); partOf references the EJ."""
    site = fhir_json(api.get("/fhir/Organization/690999016", key=KEY))
    types = [t["coding"][0] for t in site["type"]]
    assert types[0] == {
        "system": ORG_TYPE,
        "code": "GEOGRAPHICAL-ENTITY",
        "display": "Entité géographique",
    }
    category = types[1]
    assert category["system"] == (
        f"{NOS}/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement"
    )
    assert site["partOf"]["reference"] == "Organization/690999008"
    legal = fhir_json(api.get(f"/fhir/{site['partOf']['reference']}", key=KEY))
    assert legal["id"] == "690999008" and legal["active"] is True
    assert legal["type"][0]["coding"][0]["code"] == "LEGAL-ENTITY"
    systems = {
        i["system"]: (i["value"], i["type"]["coding"][0]["code"]) for i in legal["identifier"]
    }
    assert systems["https://finess.esante.gouv.fr"] == ("690999008", "FINEJ")
    assert systems[IDNST] == ("1690999008", "IDNST")
