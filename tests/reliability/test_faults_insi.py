"""INSi faults: timeouts, faults, malformed and huge answers → 502/503/504, nothing changed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from referentials.core.settings import InsiSettings
from referentials.insi_gateway import build_gateway
from soap_clients.insi.mock import MockConfig, create_mock_app
from tests.conftest import Api, ThreadedServer, closed_port
from tests.reliability.world import new_identity

IDS = "/api/v1/identities"
SOAP = "application/soap+xml; charset=utf-8"
ENVELOPE = (
    '<?xml version="1.0"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">'
)


def _huge() -> Iterator[bytes]:
    yield (ENVELOPE + "<soap:Body><x>").encode()
    for _ in range(400):  # 40 MB of padding: far more than any INSi answer
        yield b"A" * 100_000
    yield b"</x></soap:Body></soap:Envelope>"


ANSWERS: dict[str, Callable[[], Response]] = {
    "malformed_xml": lambda: Response(ENVELOPE + "<soap:Body><unclosed>", media_type=SOAP),
    "not_soap": lambda: Response(
        "<html><body>proxy error</body></html>", 500, media_type="text/html"
    ),
    "empty": lambda: Response(b"", media_type=SOAP),
    "wrong_body": lambda: Response(
        ENVELOPE + "<soap:Body><Nothing/></soap:Body></soap:Envelope>", media_type=SOAP
    ),
    "huge": lambda: StreamingResponse(_huge(), media_type=SOAP),
}


def broken_insi(kind: str) -> Starlette:
    """A tiny teleservice that answers every call badly, in one way."""

    def answer(_request: Request) -> Response:
        return ANSWERS[kind]()

    return Starlette(routes=[Route("/", answer, methods=["POST", "GET"])])


@pytest.fixture()
def point_insi(live_app: ThreadedServer) -> Iterator[Callable[[Any, float], None]]:
    """Point the live app's INSi gateway at another server (an app, or None: a closed port)."""
    original = live_app.app.state.insi
    servers: list[ThreadedServer] = []

    def use(app: Any, timeout: float = 2.0) -> None:
        if app is None:
            endpoint = f"http://127.0.0.1:{closed_port()}/"
        else:
            server = ThreadedServer(app).__enter__()
            servers.append(server)
            endpoint = f"{server.url}/"
        insi = InsiSettings(endpoint=endpoint, timeout_seconds=timeout, retries=1)
        settings = live_app.app.state.settings.model_copy(update={"insi": insi})
        live_app.app.state.insi = build_gateway(settings)

    yield use
    live_app.app.state.insi = original
    for server in servers:
        server.__exit__()


def _unchanged(api: Api, before: dict[str, Any]) -> None:
    after = api.get(f"{IDS}/{before['id']}", key="vigilance").json()
    assert after["status"] == before["status"] and after["version"] == before["version"]
    assert after["ins"] is None
    assert api.get(f"{IDS}/{before['id']}/insi-calls").json() == []
    events = api.get("/api/v1/events", params={"limit": 1000}).json()["items"]
    assert [e["type"] for e in events if e["identity_id"] == before["id"]] == ["identity.created"]


@pytest.mark.parametrize("kind", sorted(ANSWERS))
def test_bad_answers_are_502_and_change_nothing(
    api: Api, point_insi: Callable[[Any, float], None], kind: str
) -> None:
    created = new_identity(api)
    point_insi(broken_insi(kind), 5.0)
    for path, body in (("insi-search", None), ("insi-vitale", {"matricule": "180057512345678"})):
        response = api.post(f"{IDS}/{created['id']}/{path}", json=body)
        assert response.status_code == 502, (path, response.text)
        assert response.json()["error"] == "upstream_error"
        assert "INSi" in response.json()["detail"]
    _unchanged(api, created)


@pytest.mark.parametrize(
    ("config", "status"),
    [
        (MockConfig(known_idam=("SOCLE-IDAM-0001",), unavailable=True), 503),
        (None, 503),
        (MockConfig(known_idam=("SOCLE-IDAM-0001",), technical_error=True), 502),
        (MockConfig(known_idam=("SOCLE-IDAM-0001",), latency_ms=1200), 504),
    ],
    ids=["unavailable", "closed_port", "fault", "timeout"],
)
def test_front_desk_creation_creates_nothing_when_insi_fails(
    api: Api, point_insi: Callable[[Any, float], None], config: MockConfig | None, status: int
) -> None:
    point_insi(create_mock_app(config) if config else None, 0.5)
    body = {
        "birth_name": "Adrun",
        "first_names": ["Zoé"],
        "sex": "F",
        "birth_date": "1975-12-31",
        "birth_place_code": "63220",
    }
    response = api.post(f"{IDS}/insi-create", json=body)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    found = api.get(IDS, params={"birth_name": "Adrun", "include_inactive": True}).json()
    assert found["total"] == 0
    assert api.get("/api/v1/events").json()["items"] == []
