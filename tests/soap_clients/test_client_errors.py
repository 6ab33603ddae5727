"""Faults, timeouts and transport failures as the client reports them, retries included."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from soap_clients.insi import (
    InsiFault,
    InsiProtocolError,
    InsiTimeout,
    InsiUnavailable,
)
from tests.conftest import closed_port
from tests.soap_clients.conftest import (
    FIXTURES,
    RunningMock,
    make_client,
    serve,
)

ADRUN = ("ADRUN", ["ZOE"], "F", "1975-12-31")


def test_unknown_idam_is_a_sender_fault(mock: RunningMock) -> None:
    client = make_client(mock.url, idam="UNKNOWN-IDAM", max_retries=3)
    before = mock.requests
    with pytest.raises(InsiFault) as caught:
        client.search_by_traits(*ADRUN)
    fault = caught.value
    assert (fault.code, fault.subcode, fault.error_code) == ("Sender", "siram_100", "desir_550")
    assert fault.severity == "erreur"
    assert "progiciel" in fault.reason
    assert fault.attempts == 1 and mock.requests - before == 1
    assert "desir_550" in fault.response_xml


def test_request_breaking_the_schema_is_a_sender_fault(mock: RunningMock) -> None:
    client = make_client(mock.url)
    with pytest.raises(InsiFault) as caught:
        client.search_by_traits("ADRUN", ["ZOE"], "X", "1975-12-31")
    assert (caught.value.code, caught.value.error_code) == ("Sender", "requete_invalide")


def test_unavailable_is_retried_then_reported(start_mock: Callable[..., RunningMock]) -> None:
    running = start_mock(unavailable=True)
    client = make_client(running.url, max_retries=2)
    with pytest.raises(InsiUnavailable) as caught:
        client.search_by_traits(*ADRUN)
    error = caught.value
    assert (error.subcode, error.error_code) == ("siram_40", "desir_1020")
    assert error.attempts == 3
    assert running.requests == 3


def test_technical_error_is_a_fault_not_retried(start_mock: Callable[..., RunningMock]) -> None:
    running = start_mock(technical_error=True)
    client = make_client(running.url, max_retries=2)
    with pytest.raises(InsiFault) as caught:
        client.search_by_carte_vitale("2751263220749", "74")
    fault = caught.value
    assert (fault.code, fault.subcode, fault.error_code) == ("Receiver", "siram_40", "insi_102")
    assert fault.attempts == 1 and running.requests == 1


def test_latency_beyond_the_timeout_is_retried_then_reported(
    start_mock: Callable[..., RunningMock],
) -> None:
    running = start_mock(latency_ms=600)
    client = make_client(running.url, timeout_seconds=0.15, max_retries=2)
    started = time.monotonic()
    with pytest.raises(InsiTimeout) as caught:
        client.search_by_traits(*ADRUN)
    assert caught.value.attempts == 3
    assert time.monotonic() - started < 2.0
    # Give the last request time to be counted: every attempt reached the server.
    deadline = time.monotonic() + 2
    while running.requests < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert running.requests == 3


def test_latency_within_the_timeout_answers(start_mock: Callable[..., RunningMock]) -> None:
    running = start_mock(latency_ms=100)
    client = make_client(running.url, timeout_seconds=2)
    assert client.search_by_traits(*ADRUN).cr_code == "00"


def test_connection_refused_is_unavailable_without_retry() -> None:
    client = make_client(f"http://127.0.0.1:{closed_port()}/", max_retries=2)
    with pytest.raises(InsiUnavailable) as caught:
        client.search_by_traits(*ADRUN)
    assert caught.value.attempts == 1


class Canned:
    """A server answering every POST with one fixed HTTP response, counting calls."""

    def __init__(self, status: int, body: bytes, media_type: str) -> None:
        self.calls = 0

        async def endpoint(request: Request) -> Response:
            self.calls += 1
            return Response(body, status_code=status, media_type=media_type)

        self.app = Starlette(routes=[Route("/", endpoint, methods=["POST"])])


@pytest.fixture
def canned() -> Iterator[Callable[[int, bytes, str], tuple[Canned, str]]]:
    with ExitStack() as stack:

        def start(status: int, body: bytes, media_type: str) -> tuple[Canned, str]:
            server = Canned(status, body, media_type)
            return server, stack.enter_context(serve(server.app)) + "/"

        yield start


def test_http_503_is_unavailable_and_retried(canned: Callable[..., tuple[Canned, str]]) -> None:
    server, url = canned(503, b"<html>maintenance</html>", "text/html")
    client = make_client(url, max_retries=1)
    with pytest.raises(InsiUnavailable) as caught:
        client.search_by_traits(*ADRUN)
    assert caught.value.http_status == 503
    assert caught.value.attempts == 2 and server.calls == 2


def test_http_404_page_is_a_protocol_error(canned: Callable[..., tuple[Canned, str]]) -> None:
    server, url = canned(404, b"<html>not here</html>", "text/html")
    client = make_client(url, max_retries=2)
    with pytest.raises(InsiProtocolError) as caught:
        client.search_by_traits(*ADRUN)
    assert caught.value.http_status == 404 and server.calls == 1


def test_malformed_answer_is_a_protocol_error(canned: Callable[..., tuple[Canned, str]]) -> None:
    _, url = canned(200, b"<soap:Envelope><unclosed>", "application/soap+xml")
    with pytest.raises(InsiProtocolError):
        make_client(url).search_by_traits(*ADRUN)


def test_unknown_cr_code_is_a_protocol_error(canned: Callable[..., tuple[Canned, str]]) -> None:
    body = (FIXTURES / "response_cr02_de_vinci.xml").read_bytes().replace(b">02<", b">99<")
    _, url = canned(200, body, "application/soap+xml")
    with pytest.raises(InsiProtocolError, match="99"):
        make_client(url).search_by_traits(*ADRUN)


def test_cr_00_without_individu_is_a_protocol_error(
    canned: Callable[..., tuple[Canned, str]],
) -> None:
    body = (FIXTURES / "response_cr02_de_vinci.xml").read_bytes()
    body = body.replace(b">02<", b">00<").replace(b"Plusieurs identites trouvees", b"OK")
    _, url = canned(200, body, "application/soap+xml")
    with pytest.raises(InsiProtocolError, match="INDIVIDU"):
        make_client(url).search_by_traits(*ADRUN)


def test_answer_with_prenom_and_dates_is_kept_as_returned(
    canned: Callable[..., tuple[Canned, str]],
) -> None:
    body = Path(FIXTURES / "response_cr00_corse_with_prenom.xml").read_bytes()
    _, url = canned(200, body, "application/soap+xml")
    result = make_client(url).search_by_traits("CORSE", ["ANTHONY"], "M", "1980-03-02").final
    assert result.active is not None and result.traits is not None
    assert (result.active.type_matricule, result.active.date_deb) == ("NIR", "1980-03-02")
    assert [(h.full, h.date_fin) for h in result.history] == [("180032B02040292", "1999-12-31")]
    assert result.traits.first_name == "ANTHONY"
