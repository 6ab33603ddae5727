"""A served process's request threads are bounded; calls out wait in threads of their own."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Receive, Scope, Send

from referentials.app import create_app
from referentials.core.settings import PscSettings, Settings
from referentials.core.threads import request_threads
from tests.conftest import NO_SCHEDULER, Api, ThreadedServer
from tests.factories import identity_body


def _settings(db_settings: Settings, threads: int, **changes: Any) -> Settings:
    limits = db_settings.limits.model_copy(update={"request_threads": threads})
    return db_settings.model_copy(update={"limits": limits, "scheduler": NO_SCHEDULER, **changes})


def test_a_served_process_runs_at_most_its_request_threads_at_once(
    db_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    app = create_app(_settings(db_settings, 2))
    inside, most, lock, release = 0, 0, threading.Lock(), threading.Event()

    @app.get("/test-only/held")
    def held() -> dict[str, int]:  # a synchronous route: it runs in a request thread
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        release.wait(30)
        with lock:
            inside -= 1
        return {"most": most}

    with ThreadedServer(app) as server, ThreadPoolExecutor(5) as pool:
        calls = [
            pool.submit(httpx.get, f"{server.url}/test-only/held", timeout=60) for _ in "12345"
        ]
        deadline = time.monotonic() + 10
        while inside < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # time for the three others to come in, were there threads for them
        assert (inside, most) == (2, 2)
        release.set()
        assert [c.result(timeout=60).status_code for c in calls] == [200] * 5
    assert most == 2


class StuckService:
    """Answers nothing until released: a service that hangs (counts who is waiting)."""

    def __init__(self) -> None:
        self.waiting = 0
        self.released = threading.Event()

    def reached(self, count: int, *, within: float) -> bool:
        """Whether ``count`` callers are waiting at once within ``within`` seconds."""
        deadline = time.monotonic() + within
        while self.waiting < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.waiting >= count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.waiting += 1
        while not self.released.is_set():
            await asyncio.sleep(0.01)
        await send({"type": "http.response.start", "status": 503, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def test_readiness_looks_at_a_stuck_insi_outside_the_request_threads(
    db_settings: Settings, keys: dict[str, str]
) -> None:
    stuck = StuckService()
    with ThreadedServer(stuck) as insi:
        changes = {"endpoint": f"{insi.url}/", "mock_enabled": False}
        settings = _settings(db_settings, 1, insi=db_settings.insi.model_copy(update=changes))
        with ThreadedServer(create_app(settings)) as server, ThreadPoolExecutor(3) as pool:
            api = Api(server.url, keys)
            probes = [
                pool.submit(httpx.get, f"{server.url}/health/ready", timeout=30) for _ in "123"
            ]
            # Three looks at INSi at once, with one request thread; and that thread is free.
            # Sooner than a look gives up (2 s): one after the other, three would take 6 s.
            assert stuck.reached(3, within=1.5)
            created = api.post("/api/v1/identities", json=identity_body())
            assert created.status_code == 201, created.text
            stuck.released.set()
            answers = [p.result(timeout=30) for p in probes]
            api.client.close()
    assert [a.status_code for a in answers] == [200] * 3
    assert {a.json()["insi"]["reachable"] for a in answers} == {False}


def test_sign_in_waits_for_pro_sante_connect_outside_the_request_threads(
    db_settings: Settings, keys: dict[str, str]
) -> None:
    stuck = StuckService()
    with ThreadedServer(stuck) as provider:
        psc = PscSettings(
            discovery_url=f"{provider.url}/.well-known/openid-configuration",
            client_id="socle",
            client_secret="secret",
            timeout_seconds=30,
        )
        settings = _settings(db_settings, 1, psc=psc)
        with ThreadedServer(create_app(settings)) as server, ThreadPoolExecutor(3) as pool:
            api = Api(server.url, keys)
            sign_ins = [
                pool.submit(httpx.get, f"{server.url}/login/psc", timeout=60) for _ in "123"
            ]
            # Three browsers wait for the provider at once, with one request thread, and that
            # thread still serves the API.
            assert stuck.reached(3, within=10)
            assert api.get("/api/v1/identities?birth_name=X").status_code == 200
            assert not any(s.done() for s in sign_ins)
            stuck.released.set()
            pages = [s.result(timeout=60) for s in sign_ins]
            api.client.close()
    # The provider answered 503: each browser is told so, on a page.
    assert all("did not answer" in p.text for p in pages), pages[0].text


def test_request_threads_unset_depend_on_the_database(db_settings: Settings) -> None:
    def threads_for(url: str, setting: int | None = None) -> int:
        limits = db_settings.limits.model_copy(update={"request_threads": setting})
        return request_threads(
            db_settings.model_copy(update={"database_url": url, "limits": limits})
        )

    assert threads_for("sqlite:///data/socle.db") == 8
    assert threads_for("postgresql+psycopg://socle@db/socle") == 24
    assert threads_for("postgresql+psycopg://socle@db/socle", 4) == 4
