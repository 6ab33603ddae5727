"""The directory and import-run routes, over real HTTP against the live app."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from referentials.core import runs
from tests.conftest import Api, ThreadedServer
from tests.referentials.directory.conftest import FINESS_JSON, RPPS, Importer


@pytest.fixture()
def loaded(run_import: Importer) -> None:
    run_import("rpps", RPPS)
    run_import("finess", FINESS_JSON)


def items(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get(path, key="directory:read", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def idnps(found: list[dict[str, Any]]) -> set[str]:
    return {p["idnps"] for p in found}


@pytest.mark.usefixtures("loaded")
def test_search_professionals(api: Api) -> None:
    base = "/api/v1/directory/professionals"
    assert idnps(items(api, base, name="echant")) == {"819990000093"}
    assert idnps(items(api, base, name="Fictif-Duv")) == {"819990000010"}
    assert idnps(items(api, base, name="fac", first_name="MAELYS")) == {"819990000069"}
    assert idnps(items(api, base, idnps="19990000028")) == {"819990000028"}
    assert idnps(items(api, base, profession="60")) == {"819990000036"}
    assert idnps(items(api, base, skill="SM54")) == {"819990000010"}
    assert idnps(items(api, base, skill="CAP17")) == {"819990000010"}  # savoir-faire file
    assert idnps(items(api, base, department="2A")) == {"819990000051"}
    assert idnps(items(api, base, commune="97411")) == {"819990000069"}
    assert idnps(items(api, base, finess_site="380999110")) == {"819990000036", "819990000085"}
    page = api.get(base, key="directory:read", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 9 and len(page["items"]) == 2


@pytest.mark.usefixtures("loaded")
def test_one_professional_with_all_activities(api: Api) -> None:
    response = api.get("/api/v1/directory/professionals/819990000028", key="directory:read")
    assert response.status_code == 200
    body = response.json()
    assert len(body["activities"]) == 2 and body["history"][0]["change"] == "added"
    assert {a["mode_code"] for a in body["activities"]} == {"S", "L"}
    by_rpps = api.get("/api/v1/directory/professionals/19990000028", key="directory:read")
    assert by_rpps.json()["idnps"] == "819990000028"
    missing = api.get("/api/v1/directory/professionals/899999999999", key="directory:read")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


@pytest.mark.usefixtures("loaded")
def test_search_structures(api: Api) -> None:
    base = "/api/v1/directory/structures"
    finess = lambda found: {s["finess"] for s in found}  # noqa: E731
    assert finess(items(api, base, finess="690999016")) == {"690999016"}
    assert finess(items(api, base, finess="690999008")) == {"690999016", "690999024"}  # its EJ
    assert finess(items(api, base, name="ehpad")) == {"380999110", "2A0999910"}
    assert finess(items(api, base, category="500")) == {"380999110", "2A0999910"}
    assert finess(items(api, base, sector="social")) == {"750999518"}
    assert finess(items(api, base, department="9D")) == {"970999819"}
    assert finess(items(api, base, department="974")) == {"970999819"}
    assert finess(items(api, base, commune="2A004")) == {"2A0999910"}
    assert items(api, base, finess="970999819")[0]["region"] == "04"


@pytest.mark.usefixtures("loaded")
def test_one_structure_with_its_professionals_count(api: Api) -> None:
    body = api.get("/api/v1/directory/structures/380999110", key="directory:read").json()
    assert body["professionals_count"] == 2 and body["sector"] == "medico_social"
    ch = api.get("/api/v1/directory/structures/690999016", key="directory:read").json()
    assert ch["professionals_count"] == 1 and ch["sanitary_authorisations"] == ["01", "04", "50"]
    assert api.get("/api/v1/directory/structures/1", key="directory:read").status_code == 404


def test_directory_needs_its_scope(api: Api) -> None:
    path = "/api/v1/directory/professionals"
    assert api.get(path, key=None).status_code == 401
    assert api.get(path, key="identity:read").status_code == 403
    assert api.get("/api/v1/imports", key="directory:read").status_code == 403


def test_import_history_and_manual_trigger(
    api: Api, run_import: Importer, live_app: ThreadedServer
) -> None:
    run_import("rpps", RPPS)
    response = api.post("/api/v1/imports/finess/run", key="admin")
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        runs_page = api.get("/api/v1/imports", key="admin", params={"source": "finess"}).json()
        if runs_page["items"][0]["outcome"] != "running":
            break
        time.sleep(0.1)
    assert runs_page["total"] == 1 and runs_page["items"][0]["id"] == run_id
    assert runs_page["items"][0]["outcome"] == "succeeded"
    assert runs_page["items"][0]["trigger"] == "api"
    assert runs_page["items"][0]["counts"]["structures"] == 12
    every = api.get("/api/v1/imports", key="admin").json()
    assert every["total"] == 2 and {r["source"] for r in every["items"]} == {"rpps", "finess"}


def test_manual_trigger_conflicts_with_a_running_import(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    other = runs.new_owner()
    assert runs.acquire_lock(session_factory, "import:rpps", other, ttl=timedelta(minutes=5))
    response = api.post("/api/v1/imports/rpps/run", key="admin")
    assert response.status_code == 409 and response.json()["error"] == "import_running"
    assert api.post("/api/v1/imports/ror/run", key="admin").status_code == 422
    assert api.post("/api/v1/imports/rpps/run", key="directory:read").status_code == 403
