"""ROR completeness over HTTP: rates, the actionable list, CSV, trend, scopes."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.settings import Settings
from ror_sync import jobs
from tests.conftest import FIXTURES, Api
from tests.ror_sync import rules_fixture as rf

pytestmark = pytest.mark.usefixtures("rules_loaded")


def _sectors(body: dict[str, object]) -> dict[str, tuple[object, ...]]:
    return {
        s["sector"]: (
            s["perimeter"],
            s["finalised"],
            s["in_progress"],
            s["to_do"],
            s["target"],
            s["gap_to_target"],
        )
        for s in body["sectors"]  # type: ignore[attr-defined]
    }


def test_completeness_per_sector_with_targets_and_gaps(api: Api) -> None:
    response = api.get("/api/v1/ror/completeness", key="ror:read")
    assert response.status_code == 200, response.text
    body = response.json()
    assert _sectors(body) == {
        "sanitaire": (10, 3, 5, 2, 0.95, 7),
        "medico_social": (7, 3, 3, 1, 0.6, 2),
        "social": (1, 0, 0, 1, 0.3, 1),
        "coordination": (1, 1, 0, 0, None, None),
        "ville": (1, 0, 0, 1, None, None),
    }
    assert body["group_by"] == ["sector"] and len(body["rows"]) == 5


def test_completeness_of_a_region_grouped_by_department_and_champ(api: Api) -> None:
    response = api.get(
        "/api/v1/ror/completeness", params={"region": "84", "group_by": "department,champ"}
    )
    body = response.json()
    assert _sectors(body)["sanitaire"][:4] == (9, 3, 4, 2)  # K is in region 11
    rows = {(r["department"], r["champ"]): r for r in body["rows"]}
    assert rows[("38", "MCO")]["perimeter"] == 3 and rows[("38", "MCO")]["target"] == 0.95
    assert ("75", "SMR") not in rows


def test_unknown_grouping_is_refused(api: Api) -> None:
    response = api.get("/api/v1/ror/completeness", params={"group_by": "sector,colour"})
    assert response.status_code == 422
    assert response.json()["fields"] == {"group_by": "sector,colour"}


def test_actionable_list_with_missing_items(api: Api) -> None:
    response = api.get(
        "/api/v1/ror/completeness/structures",
        params={"status": "in_progress", "sector": "sanitaire"},
    )
    body = response.json()
    assert body["total"] == 5
    rows = {(r["finess"], r["champ"]): r for r in body["items"]}
    smr = rows[(rf.BY_KEY["A"].finess, "SMR")]
    assert {u["offer_id"]: u["missing"] for u in smr["units"]} == {"hs-A3": [], "hs-A4": ["ages"]}


def test_actionable_list_rejects_an_unknown_status(api: Api) -> None:
    response = api.get("/api/v1/ror/completeness/structures", params={"status": "done"})
    assert response.status_code == 422


def test_csv_exports_by_parameter_and_by_accept_header(api: Api) -> None:
    by_param = api.get("/api/v1/ror/completeness", params={"format": "csv"})
    assert by_param.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(by_param.text), delimiter=";"))
    assert rows[0]["sector"] == "coordination" and rows[0]["rate"] == "1.0"
    by_accept = api.get(
        "/api/v1/ror/completeness/structures",
        params={"status": "to_do"},
        headers={"Accept": "text/csv"},
    )
    lines = list(csv.DictReader(io.StringIO(by_accept.text), delimiter=";"))
    assert {line["finess"] for line in lines} == {
        rf.BY_KEY[k].finess for k in ("A", "H", "Q", "R", "V")
    }
    assert any(line["missing"] == "aucune unité élémentaire ouverte" for line in lines)


def test_each_sync_adds_a_point_to_the_trend(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    jobs.run(session_factory, str(rf.FIXTURE), Settings(fixtures_dir=FIXTURES))
    points = api.get("/api/v1/ror/completeness/trend").json()
    assert len(points) == 2
    sanitaire = points[-1]["sectors"][0]
    assert sanitaire["sector"] == "sanitaire" and sanitaire["rate"] == 0.3


def test_the_ror_needs_the_ror_read_scope(api: Api) -> None:
    assert api.get("/api/v1/ror/completeness", key=None).status_code == 401
    denied = api.get("/api/v1/ror/completeness", key="identity:read")
    assert denied.status_code == 403 and denied.json()["fields"] == {"scope": "ror:read"}
