"""The database unavailable: requests get 503 with the error shape, and recover when it returns."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine

from referentials.core.db import make_session_factory
from tests.conftest import Api, ThreadedServer, closed_port
from tests.reliability.conftest import ServeApp
from tests.reliability.world import new_identity


def unreachable_engine(dialect: str) -> Engine:
    """An engine on a database that cannot be opened: a closed port, or a path under a file."""
    if dialect == "postgresql":
        url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/socle"
        return create_engine(url, connect_args={"connect_timeout": 2})
    return create_engine("sqlite:////dev/null/socle.db")


@pytest.fixture()
def instance(serve_app: ServeApp, session_factory: object) -> Iterator[ThreadedServer]:
    # After session_factory: the tables are emptied before the instance starts, not beside it.
    with serve_app() as server:
        yield server


def test_database_down_gives_503_then_recovers(
    instance: ThreadedServer, keys: dict[str, str]
) -> None:
    api = Api(instance.url, keys)
    state = instance.app.state
    ident = new_identity(api)["id"]
    engine, factory = state.engine, state.session_factory
    broken = unreachable_engine(engine.dialect.name)
    state.engine, state.session_factory = broken, make_session_factory(broken)
    try:
        for method, path in (
            ("GET", f"/api/v1/identities/{ident}"),
            ("PATCH", f"/api/v1/identities/{ident}"),
            ("GET", "/api/v1/events"),
            ("GET", "/health"),
        ):
            response = api.request(method, path, json={"used_name": "X"}, headers={"If-Match": "1"})
            assert response.status_code == 503, (path, response.text)
            assert response.json()["error"] == "database_unavailable"
            assert response.headers["Retry-After"] == "5"
    finally:
        state.engine, state.session_factory = engine, factory
        broken.dispose()
    # The database is back: reads and writes work again, and nothing was written meanwhile.
    assert api.get("/health", key=None).json()["status"] == "ok"
    current = api.get(f"/api/v1/identities/{ident}").json()
    assert current["version"] == 1 and current["used_name"] is None
    changed = api.patch(
        f"/api/v1/identities/{ident}", json={"used_name": "Apres"}, headers={"If-Match": "1"}
    )
    assert changed.status_code == 200, changed.text
    api.client.close()


def test_connections_lost_mid_run_are_replaced(
    instance: ThreadedServer, keys: dict[str, str]
) -> None:
    """Pooled connections that died (server restart) do not fail the next requests."""
    api = Api(instance.url, keys)
    assert api.get("/api/v1/events").status_code == 200
    engine: Engine = instance.app.state.engine
    engine.pool.dispose()
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        admin = create_engine(engine.url)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid or 0)})")
            # It only signals the backend, which says goodbye and exits a moment later: wait
            # until it is gone, as a restarted server's connections are before anyone calls.
            # (Each look in a transaction of its own: the activity view is read once per
            # transaction.)
            alive = f"SELECT 1 FROM pg_stat_activity WHERE pid = {int(pid or 0)}"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                conn.rollback()
                if conn.exec_driver_sql(alive).first() is None:
                    break
                time.sleep(0.02)
        admin.dispose()
    for _ in range(3):
        assert api.get("/api/v1/events").status_code == 200
    api.client.close()
