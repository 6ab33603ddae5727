"""What the client reads once (environment, SOAP contexts) and what it makes fresh per call."""

from __future__ import annotations

import pytest
from lxml import etree
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from soap_clients.insi import contract
from soap_clients.insi.mock import MockConfig, create_mock_app
from soap_clients.insi.transport import http_session
from tests.soap_clients.conftest import IDAM, RunningMock, make_client, serve

CTX = {"lps": contract.NS_CTXLPS, "bam": contract.NS_CTXBAM, "wsa": contract.NS_WSA}


def _header(request_xml: str) -> etree._Element:
    envelope = etree.fromstring(request_xml.encode())
    header = envelope.find(f"{{{contract.NS_SOAP12}}}Header")
    assert header is not None
    return header


def _without_call_values(context: etree._Element) -> bytes:
    copy = etree.fromstring(etree.tostring(context))
    for name in ("Id", "Temps"):
        child = copy.find(f"{{{etree.QName(copy).namespace}}}{name}")
        assert child is not None and child.text
        copy.remove(child)
    return bytes(etree.tostring(copy, method="c14n"))


def test_each_call_carries_fresh_context_ids_and_the_same_configuration(
    mock: RunningMock,
) -> None:
    client = make_client(mock.url)
    first = client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31").attempts[-1].result
    second = client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31").attempts[-1].result
    # The mock validates both contexts against the contract's schemas: CR 00 means accepted.
    assert first.cr_code == second.cr_code == "00"
    one, two = _header(first.request_xml), _header(second.request_xml)
    ids = {
        h.findtext(path, namespaces=CTX)
        for h in (one, two)
        for path in ("lps:ContexteLPS/lps:Id", "bam:ContexteBAM/bam:Id")
    }
    assert len(ids) == 4 and None not in ids
    assert one.findtext("wsa:MessageID", namespaces=CTX) != two.findtext(
        "wsa:MessageID", namespaces=CTX
    )
    assert one.findtext("lps:ContexteLPS/lps:LPS/lps:IDAM", namespaces=CTX) == IDAM
    for name in ("lps:ContexteLPS", "bam:ContexteBAM"):
        context_one, context_two = one.find(name, CTX), two.find(name, CTX)
        assert context_one is not None and context_two is not None
        assert _without_call_values(context_one) == _without_call_values(context_two)
        stamp = context_one.findtext(f"{name.split(':')[0]}:Temps", namespaces=CTX)
        assert stamp is not None and stamp.endswith("Z") and "T" in stamp


def test_proxy_is_resolved_once_for_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = http_session("https://insi.example/ws", connections=2)
    assert session.proxies.get("https") == "http://proxy.example:3128"
    # Not looked up again on each call: requests' per-call environment walk is off.
    assert session.trust_env is False

    monkeypatch.setenv("NO_PROXY", "insi.example")
    assert http_session("https://insi.example/ws", connections=2).proxies == {}


class _Front:
    """In front of the mock: a moved address answered with a 307, and a cookie set on answers.

    As a load balancer in front of INSi may: the client follows the redirect with its POST and
    sends the cookie back on the next calls, as a requests session does.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cookies: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            if scope["path"] == "/moved":
                await Response(status_code=307, headers={"location": "/"})(scope, receive, send)
                return
            self.cookies.append(dict(scope["headers"]).get(b"cookie", b"").decode())

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"set-cookie", b"route=a; Path=/")]
            await send(message)

        await self.app(scope, receive, with_cookie)


def test_redirects_are_followed_and_cookies_sent_back() -> None:
    front = _Front(create_mock_app(MockConfig(known_idam=[IDAM])))
    with serve(front) as url:
        client = make_client(f"{url}/moved")
        for _ in range(2):
            outcome = client.search_by_traits("ADRUN", ["ZOE"], "F", "1975-12-31")
            assert outcome.cr_code == "00"
    assert front.cookies == ["", "route=a"]
