"""Orientation search over HTTP: open offers near a commune for an age, nearest first."""

from __future__ import annotations

import pytest

from ror_sync.orientation import haversine_km
from tests.conftest import Api
from tests.ror_sync.conftest import LYON


def test_haversine_paris_lyon() -> None:
    assert haversine_km(48.8566, 2.3522, *LYON) == pytest.approx(391.5, abs=1.0)


@pytest.mark.usefixtures("offers")
def test_offers_near_a_commune_for_an_age_nearest_first(api: Api) -> None:
    response = api.get(
        "/api/v1/ror/offers",
        key="ror:read",
        params={"commune": "69123", "activity": "901", "age": 10, "radius_km": 30},
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert {i["offer_id"] for i in items} == {"o-hs-near", "o-hs-finess", "o-hs-mid"}
    assert items[-1]["offer_id"] == "o-hs-mid"
    assert items[-1]["distance_km"] == pytest.approx(11.1, abs=0.2)
    near = next(i for i in items if i["offer_id"] == "o-hs-near")
    assert near["capacity"] == 12 and near["capacities"][0]["count"] == 12
    assert near["champ_label"] == "MCO"


@pytest.mark.usefixtures("offers")
def test_the_radius_and_the_champ_filter(api: Api) -> None:
    wide = api.get(
        "/api/v1/ror/offers",
        params={"commune": "69123", "activity": "901", "radius_km": 100, "champ": "MCO"},
    ).json()
    assert "o-hs-far" in {i["offer_id"] for i in wide["items"]}
    other_champ = api.get(
        "/api/v1/ror/offers", params={"commune": "69123", "activity": "901", "champ": "SMR"}
    )
    assert other_champ.json()["total"] == 0


@pytest.mark.usefixtures("offers")
def test_unknown_commune_and_bad_champ(api: Api) -> None:
    unknown = api.get("/api/v1/ror/offers", params={"commune": "12345"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_commune"
    bad = api.get("/api/v1/ror/offers", params={"commune": "69123", "champ": "XYZ"})
    assert bad.status_code == 422 and "champ" in bad.json()["fields"]
