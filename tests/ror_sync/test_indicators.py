"""E-parcours usage indicators: identity-service usage shares and ROR completeness."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlalchemy.orm import Session

from referentials.core.auth import Principal
from referentials.core.db import utcnow
from referentials.core.usage import flush_all, record_call
from ror_sync import indicators
from tests.conftest import Api
from tests.ror_sync import rules_fixture as rf

pytestmark = pytest.mark.usefixtures("rules_loaded")


def _calls(session: Session, *keys: str, area: str = "identity") -> None:
    for number, key in enumerate(keys, start=100):
        client = Principal(
            key_id=number,
            client_name=key,
            finess=rf.BY_KEY[key].finess,
            scopes=frozenset({"identity:read"}),
        )
        record_call(session, client, area)
    # Counted in memory; written by the flush (every few seconds, or now).
    flush_all()


def test_quarter_bounds() -> None:
    assert indicators.quarter_bounds("2026-Q4") == (date(2026, 10, 1), date(2026, 12, 31))
    assert indicators.quarter_bounds("2027-Q1") == (date(2027, 1, 1), date(2027, 3, 31))


def test_e_parcours_indicators_of_the_quarter(api: Api, session: Session) -> None:
    _calls(session, "A", "C", "P")
    _calls(session, "D", area="ror")  # another area does not count
    session.commit()
    quarter = indicators.current_quarter(utcnow().date())
    response = api.get("/api/v1/indicators/e-parcours", key="ror:read", params={"quarter": quarter})
    assert response.status_code == 200, response.text
    body = response.json()
    shares = {
        i["key"]: (i["numerator"], i["denominator"], i["target"], i["reached"])
        for i in body["indicators"]
    }
    # Sanitary EG open in FINESS: A B C D EE G H I J K (E is closed, F is not sanitary).
    assert shares == {
        "identity_health_establishments": (2, 10, 0.8, False),
        "identity_imaging_laboratories": (0, 0, 0.6, None),
        "identity_coordination": (1, 1, 1.0, True),
    }
    completeness = {s["sector"]: (s["finalised"], s["perimeter"]) for s in body["completeness"]}
    assert completeness["sanitaire"] == (3, 10) and completeness["medico_social"] == (3, 7)
    assert body["categories"]["medical_laboratories"] == ["610", "611", "612"]


def test_e_parcours_csv_and_a_past_quarter(api: Api) -> None:
    response = api.get(
        "/api/v1/indicators/e-parcours", params={"quarter": "2020-Q1", "format": "csv"}
    )
    rows = list(csv.DictReader(io.StringIO(response.text), delimiter=";"))
    assert [r["indicator"] for r in rows][:2] == [
        "ror_completeness_sanitaire",
        "ror_completeness_medico_social",
    ]
    assert rows[-1] == {
        "quarter": "2020-Q1",
        "indicator": "identity_coordination",
        "numerator": "0",
        "denominator": "1",
        "rate": "0.0",
        "target": "1.0",
    }


def test_a_malformed_quarter_is_refused(api: Api) -> None:
    response = api.get("/api/v1/indicators/e-parcours", params={"quarter": "2026-4"})
    assert response.status_code == 422 and response.json()["fields"] == {"quarter": "2026-4"}
