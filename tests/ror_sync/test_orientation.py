"""Orientation search over HTTP: open offers near a commune for an age, nearest first."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from ror_sync.geo import band_of, bounding_box
from ror_sync.orientation import NearQuery, describe, haversine_km, search_near
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


@pytest.mark.usefixtures("offers")
def test_the_search_costs_the_same_few_statements_whatever_it_finds(session: Session) -> None:
    """Bounded cost: a spatial prefilter, then the page's capacities; nothing per offer."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        query = NearQuery(LYON[0], LYON[1], 100.0)
        matches = search_near(session, query)
        describe(session, matches)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(matches) >= 6
    assert len(statements) == 2, statements
    assert "BETWEEN" in statements[0]


def test_the_bounding_box_holds_the_circle() -> None:
    box = bounding_box(LYON[0], LYON[1], 30.0)
    for bearing in range(0, 360, 5):
        lat, lon = _destination(LYON[0], LYON[1], 29.99, bearing)
        assert box.min_lat <= lat <= box.max_lat and box.min_lon <= lon <= box.max_lon
    assert haversine_km(LYON[0], LYON[1], box.max_lat, LYON[1]) == pytest.approx(30.0, abs=0.01)


def test_latitude_bands_floor_south_of_the_equator_too() -> None:
    assert band_of(45.76) == 457 and band_of(-21.05) == -211 and band_of(0.0) == 0
    assert bounding_box(-21.1, 55.5, 5.0).bands() == [-212, -211]
    assert bounding_box(45.76, 4.83, 30.0).bands() == list(range(454, 461))


def _destination(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    d, b = km / 6371.0088, math.radians(bearing)
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), math.degrees(l2)
