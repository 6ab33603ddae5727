"""A real webhook receiver for the tests: an HTTP server recording every request it answers.

Its behaviour can change while it runs: answer 200, fail with a status, be slow, or be down
(its socket closed, so connections are refused) and come back on the same port.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class Receiver:
    def __init__(self, port: int = 0) -> None:
        self.received: list[Received] = []
        # Every request's event id, answered or refused, in arrival order.
        self.attempts: list[str] = []
        self.connections: set[Any] = set()
        self.status = 200
        self.delay = 0.0
        # A status for some events (by their JSON body; None: ``status``).
        self.status_of: Callable[[dict[str, Any]], int | None] = lambda _event: None
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.port = port
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                owner.connections.add(self.connection)

            def finish(self) -> None:
                owner.connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if owner.delay:
                    time.sleep(owner.delay)
                event_id = self.headers.get("Socle-Event-Id", "")
                with owner.lock:
                    owner.attempts.append(event_id)
                chosen = owner.status_of(json.loads(body))
                status = owner.status if chosen is None else chosen
                if status < 300:
                    with owner.lock:
                        owner.received.append(
                            Received({k: v for k, v in self.headers.items()}, body, time.time())
                        )
                answer = b'{"ok": true}' if status < 300 else b"receiver says no"
                # The sender may have given up waiting (a timeout test): nobody to answer.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        # Kept-alive connections too: a receiver that is down answers nothing.
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.json for r in self.received]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                break
            time.sleep(0.05)
        return self.events()
