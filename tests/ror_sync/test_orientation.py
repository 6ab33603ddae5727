"""Orientation search over HTTP: open offers near a commune for an age, nearest first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from ror_sync.fhir_reader import read_path
from ror_sync.orientation import haversine_km
from ror_sync.sync import SyncSummary, import_resources
from tests.conftest import Api
from tests.ror_sync import fhir_builders as b

LYON = (45.7578, 4.8320)


def test_haversine_paris_lyon() -> None:
    assert haversine_km(48.8566, 2.3522, *LYON) == pytest.approx(391.5, abs=1.0)


@pytest.fixture()
def offers(rules_loaded: None, session: Session, tmp_path: Path) -> None:
    """Places at 0, ~11 and ~56 km from Lyon, plus one offer placed by its FINESS EG."""
    resources = [
        b.ej("o-ej", "690099908"),
        b.eg("o-eg", "690099916", "365", "o-ej"),
        b.location("o-near", "o-eg", cog="69123", lat=LYON[0], lon=LYON[1], capacity=12),
        b.location("o-mid", "o-eg", cog="69266", lat=45.8578, lon=4.8320),
        b.location("o-far", "o-eg", cog="38185", lat=45.2578, lon=4.8320),
        b.oi("o-ue", "o-eg"),
        b.offer("o-hs-near", "o-ue", activities=("901",), ages=(0, 17, "a"), location_id="o-near"),
        b.offer("o-hs-mid", "o-ue", activities=("901",), ages=(0, 120, "a"), location_id="o-mid"),
        b.offer("o-hs-far", "o-ue", activities=("901",), location_id="o-far"),
        b.offer(
            "o-hs-adult", "o-ue", activities=("901",), ages=(18, 120, "a"), location_id="o-near"
        ),
        b.offer(
            "o-hs-closed",
            "o-ue",
            activities=("901",),
            location_id="o-near",
            closed_on="2025-01-01",
            closing_type="DEF",
        ),
        b.offer("o-hs-other", "o-ue", activities=("902",), location_id="o-near"),
        # No coordinates on its place: positioned by the FINESS coordinates of EG A (Lyon),
        # the EG of the rule fixture's ue-A1.
        b.location("o-nopos", "eg-A", cog="69123"),
        b.offer("o-hs-finess", "ue-A1", activities=("901",), location_id="o-nopos"),
    ]
    path = tmp_path / "orientation.json"
    path.write_text(json.dumps(b.bundle(resources)))
    import_resources(session, read_path(path), SyncSummary("orientation"))
    session.commit()


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
