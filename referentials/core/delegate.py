"""Routes another local process serves: forwarded over a Unix socket, its answer sent back.

`socle serve` runs the INSi searches in a process of their own (referentials/insi_process.py).
A worker that receives one forwards it, as it came, to that process and relays the answer,
so the search's work (the SOAP client, the answer's transaction) never takes the worker's
interpreter lock from the reads and writes it serves. The middleware is the worker's outermost:
the other process applies its own limits, authentication and metrics to what it serves.

When that process cannot be reached (starting, restarting), the request is served here, as
if there were no other process. A failure once the request has been sent is answered 503: the
search may have been made, so it is not made a second time behind the caller's back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence

import httpx
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referentials.core.limits import send_error

log = logging.getLogger("socle.delegate")

# Hop-by-hop headers (RFC 9110 §7.6.1) concern one connection, not the request.
_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Written by this process's own server on every answer.
_SERVER_HEADERS = frozenset({b"date", b"server"})
# Set here from what this process knows of the caller (its own proxy headers already read).
_FORWARDED = frozenset({b"x-forwarded-for", b"x-forwarded-proto"})


class Delegate:
    """Forwards the requests ``routes`` match to the server listening on ``socket_path``."""

    def __init__(self, app: ASGIApp, *, socket_path: str, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.socket_path = socket_path
        self.routes = tuple(routes)
        self._client: httpx.AsyncClient | None = None

    def _delegated(self, scope: Scope) -> bool:
        return scope["type"] == "http" and any(
            route.matches(scope)[0] is Match.FULL for route in self.routes
        )

    @property
    def client(self) -> httpx.AsyncClient:
        # Built on first use, in the worker's event loop (not when the app is built).
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=httpx.AsyncHTTPTransport(uds=self.socket_path),
                # A search may wait for an INSi place, then for INSi itself (its own timeout
                # and retries apply there): no read timeout here.
                timeout=httpx.Timeout(None, connect=2.0),
                # A connection per request: a failure before it is open (the process is away)
                # then always means the request was not sent, so serving it here is safe. A
                # kept connection to a process that has died fails only once written to.
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=0),
            )
        return self._client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._delegated(scope):
            await self.app(scope, receive, send)
            return
        received: list[Message] = []

        async def body() -> AsyncIterator[bytes]:
            # Streamed as it arrives: the other process's body-size cap counts it.
            while True:
                message = await receive()
                received.append(message)
                if message["type"] != "http.request":
                    raise ConnectionAbortedError("the client went away")
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        request = self.client.build_request(
            scope["method"],
            _target(scope),
            headers=_request_headers(scope),
            content=body(),
        )
        try:
            response = await self.client.send(request, stream=True)
        except httpx.ConnectError:
            log.warning("the INSi process cannot be reached: the search is served here")
            await self.app(scope, _replay(received, receive), send)
            return
        except (httpx.HTTPError, ConnectionAbortedError) as exc:
            log.warning("forwarding to the INSi process failed: %s", type(exc).__name__)
            await send_error(
                send, 503, "unavailable", "the INSi process stopped before answering: search again"
            )
            return
        try:
            await _relay(response, send)
        finally:
            await response.aclose()


def _target(scope: Scope) -> str:
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    return (
        "http://socle" + path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    )


def _request_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    headers = [
        (name, value)
        for name, value in scope["headers"]
        if name not in _HOP and name not in _FORWARDED
    ]
    client = scope.get("client")
    if client:
        headers.append((b"x-forwarded-for", str(client[0]).encode("latin-1")))
    headers.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode("latin-1")))
    return headers


async def _relay(response: httpx.Response, send: Send) -> None:
    headers = [
        (name, value)
        for name, value in response.headers.raw
        if name.lower() not in _HOP and name.lower() not in _SERVER_HEADERS
    ]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    async for chunk in response.aiter_raw():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _replay(received: list[Message], receive: Receive) -> Receive:
    """What was already read of the request, then the rest as it comes."""
    pending = list(received)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
