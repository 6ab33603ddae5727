"""INSi waits in threads of its own: a stuck teleservice never takes the request threads.

The mock INSi runs as its own server (as the real, remote teleservice), slowed so that every
call is still in flight while the test reads; Socle is pointed at it with the endpoint setting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import Engine

from referentials.app import create_app
from referentials.core.settings import Settings
from soap_clients.insi.mock import MockConfig, create_mock_app
from tests.conftest import Api, ThreadedServer
from tests.factories import identity_body

IDS = "/api/v1/identities"
# More searches than a server has request threads (anyio's default pool: 40).
SEARCHES = 44
PLACES = 16
LATENCY_MS = 2000


@pytest.fixture()
def slow_insi(db_settings: Settings) -> Iterator[ThreadedServer]:
    config = MockConfig(known_idam=db_settings.insi.mock_known_idam, latency_ms=LATENCY_MS)
    with ThreadedServer(create_mock_app(config)) as server:
        yield server


@pytest.fixture()
def server(
    db_settings: Settings, engine: Engine, slow_insi: ThreadedServer
) -> Iterator[ThreadedServer]:
    insi = db_settings.insi.model_copy(
        update={
            "endpoint": f"{slow_insi.url}/",
            "mock_enabled": False,
            "max_concurrent_calls": PLACES,
            "retries": 0,
        }
    )
    with ThreadedServer(create_app(db_settings.model_copy(update={"insi": insi}))) as running:
        yield running


def _search(base: str, key: str, identity_id: int) -> int:
    response = httpx.post(
        f"{base}{IDS}/{identity_id}/insi-search",
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    return response.status_code


def test_a_read_is_answered_while_every_insi_call_is_stuck(
    server: ThreadedServer, slow_insi: ThreadedServer, keys: dict[str, str]
) -> None:
    api = Api(server.url, keys)
    # One given name, unknown to INSi: one SOAP call per search (CR 01).
    created = api.post(IDS, json=identity_body(birth_name="Attente", first_names=["Lou"]))
    assert created.status_code == 201, created.text
    identity_id = created.json()["id"]
    stats = slow_insi.app.state.stats
    with ThreadPoolExecutor(SEARCHES) as pool:
        searches: list[Future[int]] = [
            pool.submit(_search, server.url, keys["all"], identity_id) for _ in range(SEARCHES)
        ]
        deadline = time.monotonic() + 30
        while stats.requests < PLACES and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stats.requests == PLACES, "every INSi place is taken, the other searches wait"
        # Let the waiting searches reach the server: with INSi waits in request threads,
        # they would now hold every one of them.
        time.sleep(0.5)
        read = api.get(f"{IDS}/{identity_id}", timeout=LATENCY_MS / 1000 * 10)
        finished = [s for s in searches if s.done()]
        assert read.status_code == 200, read.text
        assert finished == [], "the read was answered while every INSi call was in flight"
        assert [s.result() for s in searches] == [200] * SEARCHES
    calls = api.get(f"{IDS}/{identity_id}/insi-calls").json()
    assert len(calls) == SEARCHES and {c["cr_code"] for c in calls} == {"01"}
    api.client.close()


def test_insi_places_bound_the_calls_in_flight(
    server: ThreadedServer, slow_insi: ThreadedServer, keys: dict[str, str]
) -> None:
    api = Api(server.url, keys)
    created = api.post(IDS, json=identity_body(birth_name="Borne", first_names=["Noe"]))
    identity_id = created.json()["id"]
    stats = slow_insi.app.state.stats
    seen: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(stats.requests)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with ThreadPoolExecutor(PLACES + 4) as pool:
        started = time.monotonic()
        results = list(
            pool.map(lambda _: _search(server.url, keys["all"], identity_id), range(PLACES + 4))
        )
        elapsed = time.monotonic() - started
    stop.set()
    watcher.join()
    assert results == [200] * (PLACES + 4)
    # The first PLACES calls arrive together; the 4 others only once places free up.
    assert PLACES in seen and max(seen) == PLACES + 4
    assert elapsed >= 2 * LATENCY_MS / 1000
    api.client.close()
