"""PDQm search refuses to list the referential: a discriminating criterion, and a paging cap."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.factories import identity_body
from tests.identity.fhir_check import fhir_json, outcome

SEARCH = "/fhir/Patient"


@pytest.fixture()
def crowd(api: Api) -> list[int]:
    """Identities whose names share their first letter, as any referential has by thousands."""
    names = ["Aubert", "Arnaud", "Adam", "Antoine"]
    out = []
    for name in names:
        response = api.post("/api/v1/identities", json=identity_body(birth_name=name))
        assert response.status_code == 201, response.text
        out.append(int(response.json()["id"]))
    return out


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"family": "A"},
        {"family": "Au"},
        {"given": "H"},
        {"gender": "female"},
        {"active": "true"},
        {"birthdate": "1980"},
        {"birthdate": "ge1900-01-01"},
        {"gender": "female", "active": "true", "birthdate": "1980-05"},
        {"_count": "100", "_offset": "0"},
    ],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()) or "none",
)
def test_a_search_that_would_list_the_referential_is_refused(
    api: Api, crowd: list[int], params: dict[str, str]
) -> None:
    body = outcome(api.get(SEARCH, key="identity:read", params=params), 400)
    assert "discriminating criterion" in body["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"family": "Aub"}, 1),
        ({"family:exact": "ADAM"}, 1),
        ({"given": "hel", "gender": "female"}, 4),
        ({"birthdate": "1980-05-17"}, 4),
        ({"family": "Arn", "birthdate": "1980"}, 1),
    ],
)
def test_discriminating_searches_answer(
    api: Api, crowd: list[int], params: dict[str, str], count: int
) -> None:
    body = fhir_json(api.get(SEARCH, key="identity:read", params=params))
    assert body["total"] == count


def test_identifier_and_id_are_enough_alone(api: Api, crowd: list[int]) -> None:
    body = fhir_json(api.get(SEARCH, key="identity:read", params={"_id": str(crowd[0])}))
    assert [e["resource"]["id"] for e in body["entry"]] == [str(crowd[0])]
    none = fhir_json(api.get(SEARCH, key="identity:read", params={"identifier": "urn:x|1"}))
    assert none["total"] == 0


def test_paging_stops_at_a_depth(api: Api, crowd: list[int]) -> None:
    deep = {"birthdate": "1980-05-17", "_count": "100", "_offset": "950"}
    body = outcome(api.get(SEARCH, key="identity:read", params=deep), 400)
    assert "refine" in body["issue"][0]["diagnostics"]
    ok = {"birthdate": "1980-05-17", "_count": "100", "_offset": "900"}
    assert fhir_json(api.get(SEARCH, key="identity:read", params=ok))["total"] == 4
