"""/metrics in the Prometheus format and /health/ready, over real HTTP on the real app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from referentials.core import runs
from referentials.core.db import make_engine
from tests.conftest import Api, ThreadedServer, closed_port
from tests.factories import identity_body
from tests.reliability.conftest import ServeApp

IDS = "/api/v1/identities"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(api: Api, key: str = "admin") -> Samples:
    response = api.get("/metrics", key=key)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_need_an_admin_key(api: Api) -> None:
    assert api.get("/metrics", key=None).status_code == 401
    assert api.get("/metrics", key="identity:read").status_code == 403
    assert api.get("/metrics", key="sk_not_a_key").status_code == 401
    assert scrape(api, "admin")


def test_a_separate_token_reads_metrics_only(serve_app: ServeApp, keys: dict[str, str]) -> None:
    with serve_app(metrics_token="scraper-token-0123456789") as server:
        api = Api(server.url, {**keys, "scraper": "scraper-token-0123456789"})
        assert scrape(api, "scraper")
        assert api.get(f"{IDS}/1", key="scraper").status_code == 401
        assert api.get("/metrics", key="wrong-token").status_code == 401
        api.client.close()


def test_request_latency_is_labelled_with_the_route_template(api: Api) -> None:
    first = api.post(IDS, json=identity_body()).json()["id"]
    second = api.post(IDS, json=identity_body(birth_name="Autre")).json()["id"]
    before = scrape(api)
    for ident in (first, second, first):
        assert api.get(f"{IDS}/{ident}").status_code == 200
    assert api.get("/no/such/path").status_code == 404
    after = scrape(api)
    name = "socle_http_request_duration_seconds_count"
    route = {"method": "GET", "route": "/api/v1/identities/{identity_id}", "status": "200"}
    assert value(after, name, **route) - value(before, name, **route) == 3
    assert value(after, name, method="GET", route="unmatched", status="404") >= 1
    routes = {dict(labels).get("route", "") for (_n, labels) in after}
    assert f"{IDS}/{first}" not in routes and "/no/such/path" not in routes
    bucket = {**route, "le": "+Inf"}
    assert value(after, "socle_http_request_duration_seconds_bucket", **bucket) >= 3


def test_insi_calls_by_operation_and_cr(api: Api, switched_insi: Any) -> None:
    adrun = api.post(
        IDS,
        json=identity_body(
            birth_name="Adrun",
            first_names=["Zoé"],
            birth_date="1975-12-31",
            birth_place_code="63220",
        ),
    ).json()["id"]
    houilles = api.post(
        IDS,
        json=identity_body(
            birth_name="Houilles",
            first_names=["Pierre", "Paul", "Jacques"],
            sex="M",
            birth_date="1993-01-27",
        ),
    ).json()["id"]
    before = scrape(api)
    assert api.post(f"{IDS}/{adrun}/insi-search").json()["cr_code"] == "00"
    assert api.post(f"{IDS}/{houilles}/insi-search").json()["cr_code"] == "01"
    switched_insi()
    assert api.post(f"{IDS}/{adrun}/insi-search").status_code == 503
    after = scrape(api)

    def delta(result: str) -> float:
        labels = {"operation": "traits", "result": result}
        name = "socle_insi_calls_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert (delta("00"), delta("01"), delta("unavailable")) == (1, 4, 1)


@pytest.fixture()
def switched_insi(live_app: ThreadedServer) -> Iterator[Any]:
    """Point the app's INSi at a port nothing listens on, for the rest of the test."""
    from referentials.core.settings import InsiSettings
    from referentials.insi_gateway import build_gateway

    original = live_app.app.state.insi

    def stop() -> None:
        cfg = InsiSettings(endpoint=f"http://127.0.0.1:{closed_port()}/", retries=0)
        settings = live_app.app.state.settings.model_copy(update={"insi": cfg})
        live_app.app.state.insi = build_gateway(settings)

    yield stop
    live_app.app.state.insi = original


def test_queue_imports_and_feed_lag_come_from_the_database(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    api.post(IDS, json=identity_body())
    api.post(IDS, json=identity_body(first_names=["Helene"]))
    run = runs.start_run(session_factory, source="rpps", location="x", owner="t", trigger="cli")
    with session_factory() as session:
        runs.finish_run(session, run, outcome="failed", error="truncated")
        session.commit()
    head = api.get("/api/v1/events", key="identity:read").json()
    events = len(head["items"])
    samples = scrape(api)
    assert sum(v for (n, _labels), v in samples.items() if n == "socle_duplicate_pairs") == 1
    pending = [dict(lb) for (n, lb), v in samples.items() if n == "socle_duplicate_pairs" and v]
    assert pending[0]["status"] == "pending" and pending[0]["band"] in ("match", "review")
    assert value(samples, "socle_import_runs", source="rpps", outcome="failed") == 1
    assert value(samples, "socle_event_feed_head_cursor") == head["next_cursor"]
    client = "client-identity:read"
    assert value(samples, "socle_event_feed_lag_events", client=client) == head["next_cursor"]
    assert events and value(samples, "socle_event_feed_lag_seconds", client=client) > 0
    api.get("/api/v1/events", key="identity:read", params={"after": head["next_cursor"]})
    # A cursor past the head (any number a client sends) reads as up to date.
    api.get("/api/v1/events", key="identity:read", params={"after": 2**62})
    caught_up = scrape(api)
    assert value(caught_up, "socle_event_feed_lag_events", client=client) == 0
    assert value(caught_up, "socle_event_feed_lag_seconds", client=client) == 0


def test_ready_checks_the_database_and_reports_insi(
    serve_app: ServeApp, live_app: ThreadedServer
) -> None:
    with serve_app() as server:
        api = Api(server.url, {})
        body = api.get("/health/ready", key=None).json()
        assert body["status"] == "ready" and body["database"] == "ok"
        assert body["insi"]["reachable"] is True and body["insi"]["http_status"] == 200
        api.client.close()
    closed = {"endpoint": f"http://127.0.0.1:{closed_port()}/"}
    with serve_app(insi=closed) as server:
        api = Api(server.url, {})
        response = api.get("/health/ready", key=None)
        # INSi down does not make the service unready: identities are still served.
        assert response.status_code == 200
        assert response.json()["insi"] == {"reachable": False, "error": "ConnectError"}
        engine = server.app.state.engine
        server.app.state.engine = make_engine(f"postgresql+psycopg://u@127.0.0.1:{closed_port()}/x")
        try:
            down = api.get("/health/ready", key=None)
        finally:
            server.app.state.engine = engine
        assert down.status_code == 503 and down.json()["database"] == "unreachable"
        api.client.close()
