"""Process metrics in the Prometheus format: request latency per route, INSi calls, feed cursors.

Several worker processes may serve: when ``PROMETHEUS_MULTIPROC_DIR`` names a directory (set
before the workers start; `socle serve` makes one when it runs several processes),
prometheus-client writes each process's values there and a scrape adds them up
(:func:`process_collector`). Figures that live in the database (queue sizes,
import runs, the feed's head) are not kept here: they are read at scrape time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referentials.core.serving import MULTIPROCESS_ENV

PROCESS = CollectorRegistry(auto_describe=True)

REQUEST_SECONDS = Histogram(
    "socle_http_request_duration_seconds",
    "Time to answer a request, by route template (never the raw path: ids stay out).",
    ["method", "route", "status"],
    registry=PROCESS,
)
INSI_CALLS = Counter(
    "socle_insi_calls",
    "Calls to INSi by operation, and by CR code or fault (unavailable, timeout, fault, error).",
    ["operation", "result"],
    registry=PROCESS,
)
# Cursors only grow: across workers, the highest one is the consumer's position.
FEED_CURSOR = Gauge(
    "socle_event_feed_consumer_cursor",
    "The cursor each client last read the identity event feed after.",
    ["client"],
    registry=PROCESS,
    multiprocess_mode="max",
)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROCESS_ENV))


class _Forward(Collector):
    """This process's metrics, for a registry built per scrape."""

    def collect(self) -> Iterable[Any]:
        return PROCESS.collect()


def process_collector(registry: CollectorRegistry) -> None:
    """Add the request and INSi metrics to ``registry``: every worker's, or this process's."""
    if multiprocess():
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward())


def record_insi(operation: str, result: str) -> None:
    INSI_CALLS.labels(operation=operation, result=result).inc()


_highest: dict[str, int] = {}


def record_feed_cursor(client: str, cursor: int) -> None:
    """A client read the feed after ``cursor``; a client re-reading older events is not behind."""
    if cursor >= _highest.get(client, -1):
        _highest[client] = cursor
        FEED_CURSOR.labels(client=client).set(cursor)


class RequestTimer:
    """ASGI middleware: the latency of each request, labelled with the route that served it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            REQUEST_SECONDS.labels(
                method=scope["method"], route=route, status=str(status["code"])
            ).observe(time.perf_counter() - started)
