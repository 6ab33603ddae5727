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
    codes = {c["system"].rsplit("/", 1)[1]: c["code"] for c in first["code"][0]["coding"]}
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
