"""Several worker processes: /metrics adds up every worker's requests (multiprocess mode)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from referentials.core.auth import create_api_key
from referentials.core.db import make_engine, make_session_factory, session_scope
from referentials.migrations import upgrade
from tests.conftest import ROOT, free_port
from tests.reliability.test_metrics import value

KEY = "sk_metrics_workers_test_key_0123456789"
ROUTE = {"method": "GET", "route": "/api/v1/identities", "status": "422"}


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server stopped"
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not start")


def _count(url: str) -> float:
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {KEY}"})
    assert response.status_code == 200, response.text
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    return value(samples, "socle_http_request_duration_seconds_count", **ROUTE)


def test_two_workers_answer_the_same_totals(tmp_path: Path) -> None:
    port = free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    database = f"sqlite:///{tmp_path / 'socle.db'}"
    # Migrated and keyed before the workers start: each worker then finds the schema in place.
    engine = make_engine(database)
    upgrade(engine)
    with session_scope(make_session_factory(engine)) as session:
        create_api_key(session, client_name="ops", scopes=["admin"], secret=KEY)
    engine.dispose()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "SOCLE_DATABASE_URL": database,
        "SOCLE_LOAD_DEMO_DATA": "false",
        "SOCLE_SCHEDULER__ENABLED": "false",
        "SOCLE_DIRECTORY__LOAD_FIXTURES": "false",
        "SOCLE_PORT": str(port),
    }
    env.pop("SOCLE_TEST_DATABASE_URL", None)
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "referentials.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--log-level", "warning",
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, proc)
        # New connections each time, so that both workers serve some of them.
        for _ in range(40):
            httpx.get(f"{url}/api/v1/identities", headers={"Authorization": f"Bearer {KEY}"})
        counts = {_count(url) for _ in range(6)}
        assert counts == {40.0}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
