"""The ROR over FHIR (/fhir/ror): guide-shaped resources, every search parameter, includes,
and the same offers as the REST orientation search."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.identity.fhir_check import fhir_json, outcome
from tests.ror_sync.conftest import LYON

KEY = "ror:read"
BASE = "/fhir/ror"
R = "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/"
pytestmark = pytest.mark.usefixtures("ig_examples")


def search(api: Api, kind: str, **params: Any) -> dict[str, Any]:
    return fhir_json(api.get(f"{BASE}/{kind}", key=KEY, params=params))


def ids(bundle: dict[str, Any], mode: str = "match") -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def ext(resource: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in resource.get("extension", []) if e["url"] == url]


def test_the_guide_examples_read_back_profiled(api: Api) -> None:
    eg = fhir_json(api.get(f"{BASE}/Organization/5959", key=KEY))
    assert eg["meta"]["profile"] == [R + "ror-organization"]
    assert eg["meta"]["tag"][0]["code"] == "11"
    systems = {i["system"]: i["value"] for i in eg["identifier"]}
    assert systems == {
        "urn:oid:1.2.250.1.71.4.2.2": "1920001526",
        "https://finess.esante.gouv.fr": "920001526",
    }
    codes = {c["code"] for t in eg["type"] for c in t["coding"]}
    assert codes == {"EG", "460"}
    assert eg["partOf"] == {"reference": "Organization/1111"}
    assert eg["address"][0]["extension"][0]["valueCoding"]["code"] == "92009"
    assert eg["contact"][0]["telecom"][0]["value"] == "01.01.01.01.01"
    ue = fhir_json(api.get(f"{BASE}/Organization/5958", key=KEY))
    assert ue["type"][0]["coding"][0]["code"] == "4" and "identifier" not in ue

    offer = fhir_json(api.get(f"{BASE}/HealthcareService/ror-healthcareservice-exemple", key=KEY))
    assert offer["meta"]["profile"] == [R + "ror-healthcareservice"]
    assert offer["providedBy"] == {"reference": "Organization/5958"}
    assert offer["location"] == [{"reference": "Location/5253"}]
    assert offer["type"][0]["coding"][0]["code"] == "01"
    assert offer["specialty"][0]["coding"][0]["code"] == "183"
    assert offer["characteristic"][0]["coding"][0]["code"] == "28"
    (patient,) = ext(offer, R + "ror-healthcareservice-patient-type")
    age = patient["extension"][0]["valueRange"]
    assert (age["low"]["value"], age["high"]["value"]) == (18, 90)
    (contact,) = ext(offer, R + "ror-healthcareservice-contact")
    assert {s["url"] for s in contact["extension"]} == {
        "purposeContact",
        R + "ror-confidentiality-level",
    }

    place = fhir_json(api.get(f"{BASE}/Location/5253", key=KEY))
    assert place["meta"]["profile"] == [R + "ror-location"]
    assert ext(place, R + "ror-commune-cog")[0]["valueCodeableConcept"]["coding"][0]["code"] == (
        "78646"
    )
    assert place["position"] == {"latitude": 48.7953, "longitude": 2.1204}
    assert place["address"]["city"] == "Versailles"
    assert place["managingOrganization"] == {"reference": "Organization/5959"}
    near = fhir_json(api.get(f"{BASE}/Location/o-near", key=KEY))
    (capacity,) = ext(near, R + "ror-location-supported-capacity")
    assert {"url": "nbCapacity", "valueInteger": 12} in capacity["extension"]


def test_unknown_ids_and_parameters_are_operation_outcomes(api: Api) -> None:
    outcome(api.get(f"{BASE}/HealthcareService/nosuch", key=KEY), 404)
    bad = outcome(api.get(f"{BASE}/Location", key=KEY, params={"colour": "blue"}), 400)
    assert "colour" in bad["issue"][0]["diagnostics"]
    outcome(api.get(f"{BASE}/Location", key=KEY, params={"near": "45|x"}), 400)
    outcome(api.get(f"{BASE}/Location", key=KEY, params={"near": "45|4|900|km"}), 400)
    outcome(api.get(f"{BASE}/Organization", key=KEY, params={"_lastUpdated": "gesoon"}), 400)
    outcome(api.get(f"{BASE}/Organization", key=KEY, params={"_include": "Location:x"}), 400)


def test_near_and_specialty_answer_the_rest_orientation_offers(api: Api) -> None:
    """The done-when query: same offers, same order, as GET /api/v1/ror/offers."""
    rest = api.get(
        "/api/v1/ror/offers",
        key=KEY,
        params={"commune": "69123", "activity": "901", "age": 10, "radius_km": 30},
    ).json()["items"]
    bundle = search(
        api,
        "HealthcareService",
        near=f"{LYON[0]}|{LYON[1]}|30|km",
        specialty="https://mos.esante.gouv.fr/NOS/TRE_R211-ActiviteOperationnelle/FHIR/"
        "TRE-R211-ActiviteOperationnelle|901",
        **{"age-range-low": "le10", "age-range-high": "ge10"},
        _include="HealthcareService:location",
    )
    assert ids(bundle) == [i["offer_id"] for i in rest]
    assert ids(bundle) == ["o-hs-finess", "o-hs-near", "o-hs-mid"]
    assert set(ids(bundle, "include")) == {"o-near", "o-mid", "o-nopos"}
    # Profiled (and, through fhir_json, valid R4) resources: the offers and their places.
    profiles = {
        (e["resource"]["resourceType"], *e["resource"]["meta"]["profile"]) for e in bundle["entry"]
    }
    assert profiles == {
        ("HealthcareService", R + "ror-healthcareservice"),
        ("Location", R + "ror-location"),
    }
    matches = [e for e in bundle["entry"] if e["search"]["mode"] == "match"]
    distance = matches[-1]["search"]["extension"][0]["valueDistance"]
    assert distance["value"] == pytest.approx(rest[-1]["distance_km"], abs=0.01)
    reasons = [x["valueString"] for x in matches[-1]["search"]["extension"][1:]]
    assert reasons == rest[-1]["why"]
    assert any("901" in r for r in reasons) and any("aged 10" in r for r in reasons)
    assert "FINESS" in rest[0]["why"][0]
    assert bundle["total"] == 3


def test_healthcare_service_parameters(api: Api) -> None:
    hs = "HealthcareService"
    assert ids(search(api, hs, identifier="ZZZ")) == ["ror-healthcareservice-exemple"]
    assert "ror-healthcareservice-exemple" in ids(search(api, hs, type="MCO", _count=100))
    smr = ids(search(api, hs, type="02", _count=100))
    assert smr and "ror-healthcareservice-exemple" not in smr
    assert ids(search(api, hs, specialty="902")) == ["o-hs-other"]
    assert ids(search(api, hs, specialty="urn:other|901")) == []
    assert ids(search(api, hs, organization="Organization/5958")) == [
        "ror-healthcareservice-exemple"
    ]
    assert ids(search(api, hs, location="Location/o-mid")) == ["o-hs-mid"]
    adults = ids(search(api, hs, specialty="901", **{"age-range-high": "ge60"}))
    assert "o-hs-near" not in adults and "o-hs-adult" in adults
    assert ids(search(api, hs, _lastUpdated="lt2024-01-01")) == ["ror-healthcareservice-exemple"]
    far = search(api, hs, near="48.80|2.13|5|km")
    assert ids(far) == ["ror-healthcareservice-exemple"]
    by_category = ids(search(api, hs, category="157"))
    assert "ror-healthcareservice-exemple" not in by_category


def test_organization_parameters(api: Api) -> None:
    org = "Organization"
    finess = ids(search(api, org, identifier="https://finess.esante.gouv.fr|920001526"))
    assert finess == ["5959"]
    assert ids(search(api, org, identifier="urn:oid:1.2.250.1.71.4.2.2|1920001526")) == ["5959"]
    assert ids(search(api, org, identifier="https://sirene.fr|12345687900034")) == []
    category = "https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/"
    assert ids(search(api, org, type=category + "TRE-R66-CategorieEtablissement|460")) == ["5959"]
    assert "1111" in ids(search(api, org, type="EJ", _count=100))
    assert "5958" in ids(search(api, org, type="4", _count=100))
    assert ids(search(api, org, partof="Organization/5959")) == ["5958"]
    assert ids(search(api, org, **{"address-city": "bois-colombes"})) == ["5959"]
    assert ids(search(api, org, **{"address-postalcode": "92270"})) == ["5959"]
    assert ids(search(api, org, commune="92009")) == ["5959"]
    assert set(ids(search(api, org, _lastUpdated="lt2024-01-01"))) == {"1111", "5958", "5959"}
    outcome(api.get(f"{BASE}/Organization", key=KEY, params={"near": "45|4|1|km"}), 400)
    region = "https://mos.esante.gouv.fr/NOS/TRE_R30-RegionOM/FHIR/TRE-R30-RegionOM|11"
    in_region = set(ids(search(api, org, _tag=region, _count=100)))
    assert {"1111", "5958", "5959"} <= in_region and "o-eg" not in in_region


def test_location_parameters(api: Api) -> None:
    loc = "Location"
    assert ids(search(api, loc, organization="Organization/5959")) == ["5253"]
    assert ids(search(api, loc, commune="78646")) == ["5253"]
    assert ids(search(api, loc, **{"address-city": "VERSAILLES"})) == ["5253"]
    assert ids(search(api, loc, **{"address-postalcode": "78000"})) == ["5253"]
    assert ids(search(api, loc, _lastUpdated="le2023-12-20")) == ["5253"]
    assert "5253" in ids(search(api, loc, _tag="11"))
    assert "5253" not in ids(search(api, loc, _tag="84", _count=100))
    nearest = search(api, loc, near=f"{LYON[0]}|{LYON[1]}|20000|m")
    assert ids(nearest) == ["o-near", "o-mid"]


def test_includes_and_revincludes(api: Api) -> None:
    up = search(
        api,
        "HealthcareService",
        _id="ror-healthcareservice-exemple",
        _include="HealthcareService:organization",
        **{"_include:iterate": "Organization:partof"},
    )
    assert ids(up) == ["ror-healthcareservice-exemple"]
    assert set(ids(up, "include")) == {"5958", "5959", "1111"}
    down = search(
        api,
        "Organization",
        _id="5959",
        _revinclude=["Organization:partof", "Location:organization"],
    )
    assert set(ids(down, "include")) == {"5958", "5253"}
    offers = search(api, "Organization", _id="5958", _revinclude="HealthcareService:organization")
    assert ids(offers, "include") == ["ror-healthcareservice-exemple"]
    at_place = search(api, "Location", _id="5253", _revinclude="HealthcareService:location")
    assert ids(at_place, "include") == ["ror-healthcareservice-exemple"]
    parent = search(api, "Location", _id="5253", _include="Location:organization")
    assert ids(parent, "include") == ["5959"]


def test_paging_is_capped(api: Api) -> None:
    first = search(api, "Organization", _count=2)
    assert len(ids(first)) == 2 and first["total"] > 2
    following = next(link for link in first["link"] if link["relation"] == "next")
    assert "_offset=2" in following["url"]
    capped = search(api, "Organization", _count=100000)
    assert "_count=100" in capped["link"][0]["url"]


def test_the_ror_capability_statement(api: Api) -> None:
    statement = fhir_json(api.get(f"{BASE}/metadata"))
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(resources) == {"Organization", "HealthcareService", "Location", "PractitionerRole"}
    offer = resources["HealthcareService"]
    assert offer["profile"] == R + "ror-healthcareservice"
    assert {"near", "specialty", "type", "_lastUpdated"} <= {
        p["name"] for p in offer["searchParam"]
    }
    assert "HealthcareService:location" in offer["searchInclude"]


def _r4_invariants(statement: dict[str, Any]) -> None:
    """What fhir.resources does not check: a resource type once per rest entry (cpb-9), a
    parameter name once per resource (cpb-12)."""
    for rest in statement["rest"]:
        kinds = [r["type"] for r in rest["resource"]]
        assert len(kinds) == len(set(kinds)), kinds
        for resource in rest["resource"]:
            names = [p["name"] for p in resource["searchParam"]]
            assert len(names) == len(set(names)), (resource["type"], names)


def test_the_server_statement_lists_the_ror(api: Api) -> None:
    """/fhir/metadata: the directories' Organization and PractitionerRole in one rest entry,
    the ROR's four resources (base /fhir/ror) with their parameters and includes in another."""
    server = fhir_json(api.get("/fhir/metadata"))
    _r4_invariants(server)
    directories, ror = server["rest"]
    assert {r["type"] for r in directories["resource"]} == {
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "Organization",
        "Subscription",
    }
    assert "/fhir/ror" in directories["documentation"]
    assert ror["mode"] == "server" and "/fhir/ror/metadata" in ror["documentation"]
    resources = {r["type"]: r for r in ror["resource"]}
    assert set(resources) == {"Organization", "HealthcareService", "Location", "PractitionerRole"}
    for kind, resource in resources.items():
        assert resource["profile"] == R + f"ror-{kind.lower()}"
        assert resource["documentation"].endswith(f"/fhir/ror/{kind}")
        assert {"read", "search-type"} == {i["code"] for i in resource["interaction"]}
    offer = resources["HealthcareService"]
    assert {"near", "specialty", "type", "age-range-low", "_lastUpdated", "_count"} <= {
        p["name"] for p in offer["searchParam"]
    }
    assert {"HealthcareService:location", "HealthcareService:organization"} <= set(
        offer["searchInclude"]
    )
    assert offer["searchRevInclude"] == ["PractitionerRole:service"]
    organization = resources["Organization"]
    assert {"partof", "commune", "identifier"} <= {p["name"] for p in organization["searchParam"]}
    assert "Location:organization" in organization["searchRevInclude"]
    assert "ror:read" in ror["security"]["description"]
    # The ROR's own statement says the same of the same resources.
    own = fhir_json(api.get(f"{BASE}/metadata"))
    _r4_invariants(own)
    assert own["rest"][0]["resource"] == ror["resource"]


def test_practitioner_roles(api: Api) -> None:
    role = fhir_json(api.get(f"{BASE}/PractitionerRole/ror-practitionerrole-exemple", key=KEY))
    assert role["meta"]["profile"] == [R + "ror-practitionerrole"]
    assert role["practitioner"] == {"reference": "Practitioner/2524"}
    assert role["healthcareService"] == [
        {"reference": "HealthcareService/ror-healthcareservice-exemple"}
    ]
    assert role["code"][0]["coding"][0]["code"] == "60"
    pr = "PractitionerRole"
    example = ["ror-practitionerrole-exemple"]
    assert ids(search(api, pr, identifier="11102379616")) == example
    assert ids(search(api, pr, practitioner="Practitioner/2524")) == example
    assert ids(search(api, pr, organization="Organization/5958")) == example
    assert ids(search(api, pr, role="10")) == []
    with_service = search(
        api,
        pr,
        service="HealthcareService/ror-healthcareservice-exemple",
        _include="PractitionerRole:service",
    )
    assert ids(with_service) == example
    assert ids(with_service, "include") == ["ror-healthcareservice-exemple"]
    back = search(
        api,
        "HealthcareService",
        _id="ror-healthcareservice-exemple",
        _revinclude="PractitionerRole:service",
    )
    assert ids(back, "include") == example
    outcome(api.get(f"{BASE}/PractitionerRole", key=KEY, params={"near": "45|4|1|km"}), 400)
