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

import asyncio
import logging
import socket
from collections.abc import Sequence

import httptools
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

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
# Request headers not sent on: the hop-by-hop ones; `expect`, which this process's server has
# answered already (the body is read here); and the caller's address and scheme, set here from
# what this process knows of the caller (its own proxy headers already read).
_NOT_FORWARDED = _HOP | {b"expect", b"x-forwarded-for", b"x-forwarded-proto"}
# Answer headers not relayed: the hop-by-hop ones; those this process's own server writes on
# every answer (`date`, `server`); and the framing, this process's to choose (the body arrives
# decoded).
_NOT_RELAYED = _HOP | {b"date", b"server", b"content-length"}


class Delegate:
    """Forwards the requests ``routes`` match to the server listening on ``socket_path``.

    HTTP/1.1 written by hand on a plain socket and read with httptools (the C parser uvicorn
    itself uses), one connection per request: the forwarding costs the worker about a fifth of
    what an HTTP client library did (0.15 against 0.75 ms of CPU a request), and a failure to
    connect then always means the request was not sent, so serving it here instead is safe.
    """

    def __init__(self, app: ASGIApp, *, socket_path: str, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.socket_path = socket_path
        self.routes = tuple(routes)
        # Every request passes here: those of other methods (reads) are let through at once.
        self.methods = frozenset(m for route in routes for m in getattr(route, "methods", ()))

    def _delegated(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope["method"] in self.methods
            and any(route.matches(scope)[0] is Match.FULL for route in self.routes)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._delegated(scope):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.setblocking(False)
        try:
            try:
                await loop.sock_connect(connection, self.socket_path)
            except OSError:
                log.warning("the INSi process cannot be reached: the search is served here")
                await self.app(scope, receive, send)
                return
            await _exchange(scope, receive, send, connection)
        finally:
            connection.close()


async def _exchange(scope: Scope, receive: Receive, send: Send, connection: socket.socket) -> None:
    try:
        await _forward(scope, receive, connection)
    except _CallerGone:
        return  # nobody to answer
    except OSError:
        # The other process may have answered before reading the whole body (a 413): what it
        # sent is read all the same (the socket returns it before its error).
        pass
    answer = _Answer()
    try:
        await answer.read(connection)
    except (OSError, httptools.HttpParserError) as exc:
        log.warning("forwarding to the INSi process failed: %s", type(exc).__name__)
        await send_error(
            send, 503, "unavailable", "the INSi process stopped before answering: search again"
        )
        return
    await answer.relay(send)


class _CallerGone(Exception):
    """The caller disconnected before its request's body had all arrived."""


async def _forward(scope: Scope, receive: Receive, connection: socket.socket) -> None:
    """The request as it came (streamed: the other process's body-size cap counts it)."""
    loop = asyncio.get_running_loop()
    headers = _request_headers(scope)
    chunked = not any(name == b"content-length" for name, _ in headers)
    if chunked:
        headers.append((b"transfer-encoding", b"chunked"))
    head = [_request_line(scope)] + [name + b": " + value for name, value in headers]
    await loop.sock_sendall(connection, b"\r\n".join(head) + b"\r\n\r\n")
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _CallerGone
        data = message.get("body", b"")
        if chunked and data:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        if data:
            await loop.sock_sendall(connection, data)
        if not message.get("more_body", False):
            break
    if chunked:
        await loop.sock_sendall(connection, b"0\r\n\r\n")


def _request_line(scope: Scope) -> bytes:
    target = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    return (
        scope["method"].encode() + b" " + target + (b"?" + query if query else b"") + b" HTTP/1.1"
    )


def _request_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    headers = [(name, value) for name, value in scope["headers"] if name not in _NOT_FORWARDED]
    client = scope.get("client")
    if client:
        headers.append((b"x-forwarded-for", str(client[0]).encode("latin-1")))
    headers.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode("latin-1")))
    headers.append((b"connection", b"close"))
    return headers


class _Answer:
    """The other process's answer, read whole (a search's answer is a few kilobytes)."""

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.complete = False
        self.parser = httptools.HttpResponseParser(self)

    # httptools' callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True

    async def read(self, connection: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while not self.complete:
            data = await loop.sock_recv(connection, 65536)
            if not data:
                raise ConnectionResetError("the INSi process closed the connection")
            self.parser.feed_data(data)

    async def relay(self, send: Send) -> None:
        body = b"".join(self.body)
        headers = [(name, value) for name, value in self.headers if name not in _NOT_RELAYED]
        headers.append((b"content-length", str(len(body)).encode()))
        status = self.parser.get_status_code()
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
