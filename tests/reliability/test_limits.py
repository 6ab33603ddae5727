"""Limits: body size (413), page size (422), per-key rate (429), outgoing call timeouts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from referentials.core.ratelimit import RateLimit
from referentials.directory.download import DownloadFailed, download
from ror_sync.client import RorFhirClient
from ror_sync.errors import RorApiError
from tests.conftest import Api, ThreadedServer
from tests.factories import identity_body
from tests.reliability.conftest import ServeApp

IDS = "/api/v1/identities"


def test_body_over_the_cap_is_413_with_the_error_shape(api: Api) -> None:
    body = identity_body(birth_name="X" * 1_100_000)
    response = api.post(IDS, json=body)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert "1048576 bytes" in response.json()["detail"]


def test_chunked_body_over_the_cap_is_413(api: Api) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"birth_name": "'
        for _ in range(70):
            yield b"A" * 16_384
        yield b'"}'

    # A generator body goes out chunked: no Content-Length to check up front.
    response = api.post(IDS, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_upload_prefix_has_its_own_tighter_cap(api: Api) -> None:
    message = b"MSH|^~\\&|" + b"X" * 300_000
    response = api.post(
        "/api/v1/hl7v2", content=message, headers={"Content-Type": "application/hl7-v2"}
    )
    assert response.status_code == 413
    assert "262144 bytes" in response.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/api/v1/identities", "/api/v1/duplicates", "/api/v1/merges", "/api/v1/audit"]
)
def test_page_size_over_the_cap_is_422_naming_limit(api: Api, path: str) -> None:
    search = {"birth_name": "X"} if path == IDS else {}
    response = api.get(path, params={**search, "limit": 501})
    assert response.status_code == 422
    assert "limit" in response.json()["fields"]
    assert api.get(path, params={**search, "limit": 500}).status_code == 200


def test_event_feed_page_cap(api: Api) -> None:
    response = api.get("/api/v1/events", params={"limit": 1001})
    assert response.status_code == 422 and "limit" in response.json()["fields"]


def test_rate_limit_answers_429_with_retry_after_then_lets_through(
    serve_app: ServeApp, keys: dict[str, str]
) -> None:
    with serve_app(limits={"rate_per_minute": 60, "rate_burst": 3}) as server:
        client = Api(server.url, keys)
        statuses = [client.get("/api/v1/events", key="identity:read") for _ in range(4)]
        assert [r.status_code for r in statuses] == [200, 200, 200, 429]
        limited = statuses[-1]
        assert limited.json()["error"] == "rate_limited"
        retry = int(limited.headers["Retry-After"])
        assert 1 <= retry <= 2
        # Another key has its own bucket.
        assert client.get("/api/v1/events", key="all").status_code == 200
        time.sleep(retry)
        assert client.get("/api/v1/events", key="identity:read").status_code == 200
        client.client.close()


def test_rate_limit_bucket_refills_at_the_configured_rate() -> None:
    now = [0.0]

    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not called")

    limiter = RateLimit(app, per_minute=120, burst=2, clock=lambda: now[0])
    assert [limiter.take("k") for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("k") == pytest.approx(0.5)
    now[0] = 0.5
    assert limiter.take("k") == 0.0


def _slow(_request: Request) -> Response:
    time.sleep(3)
    return Response("{}", media_type="application/json")


@pytest.fixture()
def slow_server() -> Iterator[ThreadedServer]:
    app = Starlette(routes=[Route("/{path:path}", _slow)])
    with ThreadedServer(app) as server:
        yield server


def test_ror_fhir_client_gives_up_at_its_timeout(slow_server: ThreadedServer) -> None:
    started = time.monotonic()
    client = RorFhirClient(slow_server.url, timeout=0.5)
    with client, pytest.raises((RorApiError, httpx.TimeoutException)):
        list(client.search("Organization", None))
    assert time.monotonic() - started < 2.5


def test_directory_download_gives_up_at_its_timeout(
    slow_server: ThreadedServer, tmp_path: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(DownloadFailed, match="failed after 1 attempt"):
        download(f"{slow_server.url}/rpps.zip", tmp_path, retries=0, timeout=0.5)
    assert time.monotonic() - started < 2.5
