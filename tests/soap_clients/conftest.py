"""Real HTTP for the INSi tests: uvicorn serves ASGI apps on free 127.0.0.1 ports."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from soap_clients.insi import InsiClient, InsiClientConfig
from soap_clients.insi.mock import MockConfig, create_mock_app
from tests.conftest import free_port

IDAM = "SOCLE-TEST-IDAM"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "insi"
POPULATION_JSON = FIXTURES / "population_small.json"
POPULATION_CSV = FIXTURES / "population_small.csv"


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run `app` with uvicorn in a background thread; yield its base URL (no slash)."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        # Keep-alive connections of the clients under test must not hold the shutdown.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_client(endpoint: str, **overrides: Any) -> InsiClient:
    """A client with short timeouts and, unless asked, no retries."""
    settings: dict[str, Any] = {
        "idam": IDAM,
        "software_name": "Socle",
        "software_version": "0.1.0",
        "timeout_seconds": 3.0,
        "max_retries": 0,
        "retry_base_delay_seconds": 0.01,
    }
    settings.update(overrides)
    return InsiClient(InsiClientConfig(endpoint=endpoint, **settings))


class RunningMock:
    """A mock served over HTTP, with its request counter."""

    def __init__(self, url: str, app: Any) -> None:
        self.url = url
        self.app = app

    @property
    def requests(self) -> int:
        return int(self.app.state.stats.requests)


@pytest.fixture(scope="session")
def mock() -> Iterator[RunningMock]:
    """The default mock: personas + the small JSON population."""
    app = create_mock_app(MockConfig(known_idam=[IDAM], population_file=POPULATION_JSON))
    with serve(app) as url:
        yield RunningMock(f"{url}/", app)


@pytest.fixture(scope="session")
def client(mock: RunningMock) -> InsiClient:
    return make_client(mock.url)


@pytest.fixture
def start_mock() -> Iterator[Callable[..., RunningMock]]:
    """Start extra mocks with their own MockConfig; all stopped after the test."""
    with ExitStack() as stack:

        def start(**config: Any) -> RunningMock:
            config.setdefault("known_idam", [IDAM])
            app = create_mock_app(MockConfig(**config))
            url = stack.enter_context(serve(app))
            return RunningMock(f"{url}/", app)

        yield start


class ScopeInjector:
    """ASGI middleware standing for a TLS-terminating proxy: adds to each HTTP scope."""

    def __init__(self, app: ASGIApp, headers: dict[str, str], tls_name: str | None) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.tls_name = tls_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = dict(scope)
            scope["headers"] = [*scope["headers"], *self.headers]
            if self.tls_name is not None:
                extensions = dict(scope.get("extensions") or {})
                extensions["tls"] = {"client_cert_name": self.tls_name, "client_cert_chain": []}
                scope["extensions"] = extensions
        await self.app(scope, receive, send)
