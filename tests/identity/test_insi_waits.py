"""INSi waits in threads of its own: a stuck teleservice never takes the request threads.

The mock INSi runs as its own server (as the real, remote teleservice) behind a gate that holds
every SOAP call until the test opens it; Socle is pointed at it with the endpoint setting.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Receive, Scope, Send

from referentials.app import create_app
from referentials.core.settings import Settings
from soap_clients.insi.mock import MockConfig, create_mock_app
from tests.conftest import Api, ThreadedServer
from tests.factories import give_ins, identity_body

IDS = "/api/v1/identities"
# More searches than the server has request threads and INSi places.
SEARCHES = 44
PLACES = 16
REQUEST_THREADS = 4


class Gate:
    """Holds every SOAP call (a POST) until opened: INSi stuck for as long as the test wants;
    ``methods`` ("GET", "POST") to hold the look at its WSDL too."""

    def __init__(self, app: ASGIApp, methods: tuple[str, ...] = ("POST",)) -> None:
        self.app, self.methods = app, methods
        self.opened = threading.Event()
        self.arrived = 0
        self.url = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in self.methods:
            self.arrived += 1
            while not self.opened.is_set():
                await asyncio.sleep(0.01)
        await self.app(scope, receive, send)


@pytest.fixture()
def gate(db_settings: Settings) -> Iterator[Gate]:
    gated = Gate(create_mock_app(MockConfig(known_idam=db_settings.insi.mock_known_idam)))
    with ThreadedServer(gated) as server:
        gated.url = server.url
        yield gated
        gated.opened.set()


@pytest.fixture()
def server(
    db_settings: Settings, session_factory: sessionmaker[Session], gate: Gate
) -> Iterator[ThreadedServer]:
    # After session_factory: the tables are emptied before this server starts its background
    # work, not while it runs (emptying them beside it can deadlock on PostgreSQL).
    insi = db_settings.insi.model_copy(
        update={
            "endpoint": f"{gate.url}/",
            "mock_enabled": False,
            "max_concurrent_calls": PLACES,
            "timeout_seconds": 120.0,
            "retries": 0,
        }
    )
    limits = db_settings.limits.model_copy(update={"request_threads": REQUEST_THREADS})
    settings = db_settings.model_copy(update={"insi": insi, "limits": limits})
    with ThreadedServer(create_app(settings)) as running:
        yield running


def _search(base: str, key: str, identity_id: int) -> int:
    response = httpx.post(
        f"{base}{IDS}/{identity_id}/insi-search",
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    return response.status_code


def _searching(
    api: Api, base: str, key: str, name: str, count: int
) -> tuple[int, Future[list[int]]]:
    # One given name, unknown to INSi: one SOAP call per search (CR 01).
    created = api.post(IDS, json=identity_body(birth_name=name, first_names=["Lou"]))
    assert created.status_code == 201, created.text
    identity_id = created.json()["id"]
    pool = ThreadPoolExecutor(count + 1)
    futures = [pool.submit(_search, base, key, identity_id) for _ in range(count)]
    pool.shutdown(wait=False)
    everything: Future[list[int]] = Future()
    threading.Thread(
        target=lambda: everything.set_result([f.result() for f in futures]), daemon=True
    ).start()
    return identity_id, everything


def _wait_for(gate: Gate, arrived: int) -> None:
    deadline = time.monotonic() + 60
    while gate.arrived < arrived and time.monotonic() < deadline:
        time.sleep(0.05)
    # Give the other searches time to reach the server: with INSi waits in request threads,
    # they would now hold every one of them.
    time.sleep(0.5)


def test_a_read_is_answered_while_every_insi_call_is_stuck(
    server: ThreadedServer, gate: Gate, keys: dict[str, str]
) -> None:
    api = Api(server.url, keys)
    identity_id, searches = _searching(api, server.url, keys["all"], "Attente", SEARCHES)
    _wait_for(gate, PLACES)
    # Every INSi call in flight is held: this read is answered, or it waits for ever.
    read = api.get(f"{IDS}/{identity_id}", timeout=60)
    assert read.status_code == 200, read.text
    assert not searches.done() and gate.arrived == PLACES
    gate.opened.set()
    assert searches.result(timeout=120) == [200] * SEARCHES
    calls = api.get(f"{IDS}/{identity_id}/insi-calls").json()
    assert len(calls) == SEARCHES and {c["cr_code"] for c in calls} == {"01"}
    api.client.close()


def test_insi_places_bound_the_calls_in_flight(
    server: ThreadedServer, gate: Gate, keys: dict[str, str]
) -> None:
    api = Api(server.url, keys)
    _, searches = _searching(api, server.url, keys["all"], "Borne", PLACES + 4)
    _wait_for(gate, PLACES)
    assert gate.arrived == PLACES, "the 4 other searches wait for a place"
    gate.opened.set()
    assert searches.result(timeout=120) == [200] * (PLACES + 4)
    assert gate.arrived == PLACES + 4
    api.client.close()


def test_updates_that_send_their_traits_to_insi_wait_in_insi_threads(
    server: ThreadedServer,
    gate: Gate,
    keys: dict[str, str],
    session_factory: sessionmaker[Session],
) -> None:
    # An identity with an INS given new strict traits checked on a document: the change is
    # committed, then the new traits are sent to INSi (stuck here).
    api = Api(server.url, keys)
    ids, versions = [], []
    for n in range(REQUEST_THREADS + 2):
        created = api.post(IDS, json=identity_body(birth_name=f"Avant{'e' * n}"))
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
        give_ins(session_factory, ids[-1], matricule=f"2751263220{n:05d}")
        versions.append(api.get(f"{IDS}/{ids[-1]}").json()["version"])
    pool = ThreadPoolExecutor(len(ids))
    updates = [
        pool.submit(
            api.patch,
            f"{IDS}/{identity_id}",
            json={"birth_name": f"Apres{'e' * n}", "document_type": "PA"},
            headers={"If-Match": str(version)},
            timeout=120,
        )
        for n, (identity_id, version) in enumerate(zip(ids, versions, strict=True))
    ]
    _wait_for(gate, len(ids))
    # More updates wait for INSi at once than the server has request threads, and a read
    # is still answered beside them.
    assert gate.arrived == len(ids) and not any(u.done() for u in updates)
    assert api.get(f"{IDS}/{ids[0]}", timeout=60).status_code == 200
    gate.opened.set()
    answers = [u.result(timeout=120) for u in updates]
    pool.shutdown()
    assert [a.status_code for a in answers] == [200] * len(ids), answers[0].text
    assert {a.json()["status"] for a in answers} == {"VALI"}  # unknown to INSi: stays VALI
    assert {a.json()["insi_check"] for a in answers} == {"not_found"}
    api.client.close()
