"""With every logger at DEBUG (uvicorn's access log too), the main flows log no identity trait."""

from __future__ import annotations

import csv
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from referentials.app import create_app
from referentials.core.settings import Settings
from tests.conftest import FIXTURES, Api, ThreadedServer, free_port

IDS = "/api/v1/identities"
PERSON = {
    "birth_name": "Vauquelinot",
    "first_names": ["Séraphine", "Philomène"],
    "sex": "F",
    "birth_date": "1961-08-23",
    "birth_place_code": "69123",
}
ADRUN = {
    "birth_name": "Adrun",
    "first_names": ["Zoé"],
    "sex": "F",
    "birth_date": "1975-12-31",
    "birth_place_code": "63220",
}
# Every trait of the test data, in the forms they may take (typed, normalised, compact dates).
TRAITS = [
    "vauquelinot", "seraphine", "séraphine", "philomene", "philomène", "1961-08-23", "19610823",
    "23/08/1961", "adrun", "1975-12-31", "19751231", "31/12/1975", "275126322074974",
    "2751263220749", "lefebvre", "jean-pierre", "1975-03-11", "19750311", "175036311300158",
]  # fmt: skip


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == threading.main_thread().ident and record.name.startswith("http"):
            return  # the test's own HTTP client, not the service
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(f"{record.name}: {text}")


@contextmanager
def collecting_server(settings: Settings) -> Iterator[tuple[ThreadedServer, Collect]]:
    """The app behind uvicorn at DEBUG with its access log, every log record collected."""
    server = ThreadedServer(create_app(settings), port=settings.port)
    config = uvicorn.Config(server.app, host="127.0.0.1", port=settings.port, log_level="debug")
    server.server = uvicorn.Server(config)
    server.thread = threading.Thread(target=server.server.run, daemon=True)
    collect = Collect()
    root = logging.getLogger()
    quiet = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.access", "uvicorn.error")]
    level = root.level
    root.setLevel(logging.DEBUG)
    for logger in [root, *quiet]:
        logger.addHandler(collect)
    try:
        with server:
            yield server, collect
    finally:
        root.setLevel(level)
        for logger in [root, *quiet]:
            logger.removeHandler(collect)


@pytest.fixture()
def debug_server(db_settings: Settings, engine: Any) -> Iterator[tuple[ThreadedServer, Collect]]:
    """The app at DEBUG on a free port, every log record collected."""
    port = free_port()
    update = {"host": "127.0.0.1", "port": port, "base_url": f"http://127.0.0.1:{port}"}
    with collecting_server(db_settings.model_copy(update=update)) as served:
        yield served


def _flows(api: Api) -> None:
    created = api.post(IDS, json={**PERSON, "source": {"finess": "690999016", "local_id": "L1"}})
    ident = created.json()["id"]
    api.patch(f"{IDS}/{ident}", json={"used_name": "Durand"}, headers={"If-Match": "1"})
    api.get(IDS, params={"birth_name": PERSON["birth_name"], "birth_date": PERSON["birth_date"]})
    api.post(f"{IDS}/match", json={"birth_name": "Vauquelinot", "birth_date": "1961-08-23"})
    twin = api.post(IDS, json=PERSON).json()["id"]
    pairs = api.get("/api/v1/duplicates").json()["items"]
    pair = next(p for p in pairs if {p["left_id"], p["right_id"]} == {ident, twin})
    merged = api.post(f"/api/v1/duplicates/{pair['id']}/decision", json={"decision": "merge"})
    api.post(f"/api/v1/merges/{merged.json()['merge_id']}/undo", json={"reason": "erreur"})
    adrun = api.post(IDS, json=ADRUN).json()["id"]
    assert api.post(f"{IDS}/{adrun}/insi-search").json()["cr_code"] == "00"
    api.get(f"{IDS}/{adrun}", key="vigilance")
    # insi-create with a local id another identity holds, then with a new one (attached to
    # the INS holder): no 500, and nothing of either path in the logs.
    held = {**ADRUN, "source": {"finess": "690999016", "local_id": "L1"}}
    assert api.post(f"{IDS}/insi-create", json=held).json()["identity"]["id"] == ident
    fresh = {**ADRUN, "source": {"finess": "670999911", "local_id": "L2"}}
    assert api.post(f"{IDS}/insi-create", json=fresh).json()["identity"]["id"] == adrun
    api.get("/fhir/Patient", params={"family": "Vauquelinot", "birthdate": "1961-08-23"})
    api.get(f"/fhir/Patient/{ident}")
    message = (FIXTURES / "hl7v2/a28_create.hl7").read_bytes()
    hl7 = api.post("/api/v1/hl7v2", content=message, headers={"Content-Type": "text/plain"})
    assert hl7.status_code == 200


def _dedupe_stderr(tmp_path: Path) -> str:
    out = tmp_path / "pairs.csv"
    command = [
        sys.executable, "-m", "referentials.cli", "dedupe",
        str(FIXTURES / "matching/identities_small.csv"), "--out", str(out),
    ]  # fmt: skip
    env = {"SOCLE_LOG_LEVEL": "DEBUG", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert out.exists()
    return done.stderr


def test_no_trait_reaches_any_log(
    debug_server: tuple[ThreadedServer, Collect], keys: dict[str, str], tmp_path: Path
) -> None:
    server, collect = debug_server
    api = Api(server.url, keys)
    _flows(api)
    api.client.close()
    access = [line for line in collect.lines if line.startswith("uvicorn.access")]
    assert any("GET /api/v1/identities HTTP" in line for line in access), access[:5]
    lines = [*collect.lines, *_dedupe_stderr(tmp_path).splitlines()]
    with (FIXTURES / "matching/identities_small.csv").open(encoding="utf-8") as handle:
        sample = [row["birth_name"].lower() for row in csv.DictReader(handle)][:20]
    leaks = [
        (trait, line)
        for line in lines
        for trait in [*TRAITS, *sample]
        if trait and trait in line.lower()
    ]
    assert leaks == [], "\n".join(f"{t}: {line}" for t, line in leaks)
