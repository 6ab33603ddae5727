"""A real HTTP receiver for the notification tests: a threaded http.server on a free loopback
port that keeps every POST (headers, body) and answers with the status it is told, after an
optional delay."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.identity.background_server import InThread


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    server: HttpReceiver

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        srv = self.server
        with srv.lock:
            srv.posts.append(Post(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            status, delay = srv.status, srv.delay
            if srv.times and len(srv.posts) >= srv.times:
                srv.status, srv.times = 200, 0
        if delay:
            time.sleep(delay)
        answer = json.dumps({"resourceType": "OperationOutcome", "issue": []}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
        except OSError:
            return

    def log_message(self, format: str, *args: Any) -> None:
        return


class HttpReceiver(InThread[Post], ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.posts: list[Post] = []
        self.status, self.delay, self.times = 200, 0.0, 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/notify"

    def answer(self, status: int, *, delay: float = 0.0, times: int = 0) -> None:
        """Answer ``status`` (after ``delay``); with ``times``, only that many posts, then 200."""
        with self.lock:
            self.status, self.delay, self.times = status, delay, times

    def received(self) -> list[Post]:
        with self.lock:
            return list(self.posts)

    collected = received
