"""Benchmark of OAuth client credentials: token issuance, and a request with a token vs a key.

    .venv/bin/python tests/benchmarks/token_bench.py [--requests 400]

Serves the app (SQLite in a temporary folder, one uvicorn worker) on 127.0.0.1, registers a
client with an RS384 key made here, then times, one request at a time over keep-alive HTTP:
``POST /oauth/token`` (assertion signed each time), and ``GET /api/v1/identities/{id}`` with the
API key, then with an access token. Prints a Markdown table of median and p95 latencies.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from referentials.app import create_app
from referentials.core.auth import create_api_key
from referentials.core.db import make_engine, make_session_factory, session_scope
from referentials.core.oauth import service
from referentials.core.settings import LimitsSettings, SchedulerSettings, Settings
from referentials.migrations import upgrade
from tests.conftest import ThreadedServer, free_port
from tests.factories import identity_body
from tests.referentials.oauth.conftest import Client, new_key, public_jwks


def _times(count: int, call: Callable[[], int]) -> list[float]:
    out = []
    for _ in range(count):
        start = time.perf_counter()
        assert call() in (200, 201)
        out.append((time.perf_counter() - start) * 1000)
    return out


def _row(name: str, ms: list[float]) -> str:
    p95 = statistics.quantiles(ms, n=20)[18]
    return f"| {name} | {len(ms)} | {statistics.median(ms):.2f} | {p95:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    n = parser.parse_args().requests
    folder = Path(tempfile.mkdtemp())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=f"sqlite:///{folder / 'bench.db'}",
        base_url=url,
        port=port,
        load_demo_data=False,
        scheduler=SchedulerSettings(enabled=False),
        limits=LimitsSettings(rate_per_minute=0),
    )
    engine = make_engine(settings.database_url)
    upgrade(engine)
    key = new_key()
    with session_scope(make_session_factory(engine)) as session:
        api_key, secret = create_api_key(
            session, client_name="bench", scopes=["identity:read", "identity:write"]
        )
        registered = service.register_client(session, api_key_id=api_key.id, jwks=public_jwks(key))
        client = Client(registered.client_id, key, api_key.id, f"{url}/oauth/token")
    with ThreadedServer(create_app(settings), port=port), httpx.Client(base_url=url) as http:
        keyed = {"Authorization": f"Bearer {secret}"}
        ident = http.post("/api/v1/identities", json=identity_body(), headers=keyed).json()["id"]
        path = f"/api/v1/identities/{ident}"
        issued = _times(n, lambda: http.post("/oauth/token", data=client.form()).status_code)
        token = http.post("/oauth/token", data=client.form()).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        with_key = _times(n, lambda: http.get(path, headers=keyed).status_code)
        with_token = _times(n, lambda: http.get(path, headers=bearer).status_code)
    print("| request | n | median ms | p95 ms |\n|---|---|---|---|")
    print(_row("POST /oauth/token (RS384 assertion)", issued))
    print(_row("GET identity, API key", with_key))
    print(_row("GET identity, access token", with_token))


if __name__ == "__main__":
    main()
