"""Operations: ``/metrics`` (Prometheus exposition format) and ``/health/ready``.

Counters and histograms of requests and INSi calls are kept by each process (summed over the
workers in multiprocess mode); the duplicate queue, the import runs and the event feed's lag are
read from the database at scrape time, so every worker answers the same figures.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from identity.referential import repository as identities
from referentials.core import key_expiry, metrics, runs, threads
from referentials.core.auth import DbSession, Principal, authenticate
from referentials.core.db import session_scope, utcnow
from referentials.core.errors import Forbidden, Unauthorized
from referentials.core.notify import metrics as notify_metrics
from referentials.core.settings import Settings
from referentials.insi_gateway import insi_endpoint

log = logging.getLogger("socle.metrics")
router = APIRouter(tags=["operations"])
_bearer = HTTPBearer(auto_error=False, description="an admin API key or the metrics token")
METRICS_CLIENT = Principal(
    key_id=None, client_name="metrics-token", finess=None, scopes=frozenset()
)


def require_admin(
    *,
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    session: DbSession,
) -> Principal:
    """An admin key, or the separate metrics token when one is set (a scraper needs no key)."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    token: str = request.app.state.settings.metrics_token
    if token and secrets.compare_digest(credentials.credentials.encode(), token.encode()):
        return METRICS_CLIENT
    principal = authenticate(session, credentials.credentials)
    if not principal.has("admin"):
        raise Forbidden("this key lacks the scope 'admin'", fields={"scope": "admin"})
    return principal


class DatabaseFigures(Collector):
    """Gauges read from the database at scrape time (the same answer from every worker)."""

    def __init__(self, factory: sessionmaker[Session], cursors: dict[str, float]) -> None:
        self.factory = factory
        self.cursors = cursors

    def collect(self) -> Iterable[Any]:
        with session_scope(self.factory) as session:
            yield _pairs(session)
            yield _runs(session)
            yield from _feed(session, self.cursors)
            yield _key_expiry(session)
            yield from notify_metrics.families(session)


def _pairs(session: Session) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "socle_duplicate_pairs", "Pairs of the duplicate queue.", labels=["band", "status"]
    )
    for (status, band), count in sorted(identities.pair_counts(session).items()):
        family.add_metric([band, status], count)
    return family


def _runs(session: Session) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "socle_import_runs", "Import runs recorded.", labels=["source", "outcome"]
    )
    for (source, outcome), count in sorted(runs.run_counts(session).items()):
        family.add_metric([source, outcome], count)
    return family


def _key_expiry(session: Session) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        "socle_api_key_expires_in_seconds",
        "Seconds until an API key not revoked expires; negative once it has (its client is "
        "refused). Keys without an expiry are left out.",
        labels=["key", "client"],
    )
    now = utcnow()
    for key_id, client, expires_at in key_expiry.with_expiry(session):
        family.add_metric([str(key_id), client], (expires_at - now).total_seconds())
    return family


def _feed(session: Session, cursors: dict[str, float]) -> Iterable[GaugeMetricFamily]:
    head = identities.feed_head(session)
    yield GaugeMetricFamily(
        "socle_event_feed_head_cursor", "Cursor of the newest identity event.", value=head
    )
    events = GaugeMetricFamily(
        "socle_event_feed_lag_events", "Events a client has not read yet.", labels=["client"]
    )
    seconds = GaugeMetricFamily(
        "socle_event_feed_lag_seconds",
        "Age of the oldest event a client has not read yet (0 when up to date).",
        labels=["client"],
    )
    now = utcnow()
    for client, raw in sorted(cursors.items()):
        # A cursor past the head (a client sending any number) is simply up to date.
        cursor = min(int(raw), head)
        events.add_metric([client], head - cursor)
        oldest = identities.first_unread_at(session, cursor)
        seconds.add_metric([client], (now - oldest).total_seconds() if oldest else 0.0)
    yield events
    yield seconds


def _consumer_cursors(registry: CollectorRegistry) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == "socle_event_feed_consumer_cursor":
                client = sample.labels["client"]
                found[client] = max(found.get(client, 0.0), sample.value)
    return found


@router.get("/metrics", include_in_schema=True)
def scrape(request: Request, principal: Principal = Depends(require_admin)) -> Response:
    """Prometheus exposition format: latency per route, INSi calls, queue, imports, feed lag."""
    registry = CollectorRegistry()
    metrics.process_collector(registry)
    cursors = _consumer_cursors(registry)
    registry.register(DatabaseFigures(request.app.state.session_factory, cursors))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)


@router.get("/health/ready", tags=["health"])
async def ready(request: Request, response: Response) -> dict[str, Any]:
    """Readiness: the database must answer (503 otherwise); INSi's reachability is reported."""
    # INSi's endpoint is looked at: a call out, in the outbound threads.
    return await threads.outbound(request, _ready, request, response)


def _ready(request: Request, response: Response) -> dict[str, Any]:
    engine: Engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except (SQLAlchemyError, OSError) as exc:
        log.warning("readiness: the database does not answer (%s)", type(exc).__name__)
        database = "unreachable"
        response.status_code = 503
    # After the database check, with no connection held: INSi is a network call.
    insi = probe_insi(request.app.state.settings)
    status = "ready" if database == "ok" else "not_ready"
    return {"status": status, "database": database, "insi": insi}


def probe_insi(settings: Settings, timeout: float = 2.0) -> dict[str, Any]:
    """Whether INSi's endpoint answers HTTP (its WSDL), in at most ``timeout`` seconds."""
    cfg = settings.insi
    cert = (cfg.client_cert, cfg.client_key) if cfg.client_cert else None
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=timeout, cert=cert, verify=cfg.ca_bundle or True) as client:
            answer = client.get(insi_endpoint(settings), params={"wsdl": ""})
    except (httpx.HTTPError, OSError) as exc:
        return {"reachable": False, "error": type(exc).__name__}
    elapsed = round(time.perf_counter() - started, 3)
    return {
        "reachable": answer.status_code < 500,
        "http_status": answer.status_code,
        "seconds": elapsed,
    }


def install_metrics(app: FastAPI) -> None:
    """Time every request (outermost middleware) and serve /metrics and /health/ready."""
    app.add_middleware(metrics.RequestTimer)
    app.include_router(router)
