"""Shared test harness: a migrated database (SQLite, or PostgreSQL when
SOCLE_TEST_DATABASE_URL is set), a real uvicorn server, keys for each scope."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from apscheduler.schedulers.background import BackgroundScheduler
from psycopg.errors import DeadlockDetected
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from referentials import scheduler
from referentials.app import create_app
from referentials.core import usage
from referentials.core.auth import SCOPES, create_api_key
from referentials.core.db import Base, make_engine, make_session_factory, session_scope
from referentials.core.settings import LimitsSettings, NotifySettings, SchedulerSettings, Settings
from referentials.migrations import upgrade

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
PG_URL = os.environ.get("SOCLE_TEST_DATABASE_URL", "")
# The test server must not schedule imports of its own.
NO_SCHEDULER = SchedulerSettings(enabled=False)
# Nor deliver notifications by itself: the notification tests run the worker they need.
NO_NOTIFIER = NotifySettings(embedded=False)
# The suites send many keyless and bad-key requests from 127.0.0.1 on purpose (auth matrix,
# fuzzing): the per-address bucket of unknown keys is widened; its own tests narrow it.
TEST_LIMITS = LimitsSettings(
    unknown_rate_per_minute=60_000, unknown_burst=10_000, login_failures_per_address=1000
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Bound for the whole run and never listening: a connection to it is refused. A port merely
# found free could be taken meanwhile by a server of another test run on the machine.
_CLOSED = socket.socket()
_CLOSED.bind(("127.0.0.1", 0))


def closed_port() -> int:
    """A local port nothing listens on, and nothing can while the tests run."""
    return int(_CLOSED.getsockname()[1])


class ThreadedServer:
    """A uvicorn server on a free local port (or on ``uds``, a Unix socket), in a thread."""

    def __init__(
        self, app: Any, port: int | None = None, *, uds: Path | None = None, **options: Any
    ) -> None:
        self.app = app
        self.port = port or free_port()
        where: dict[str, Any] = (
            {"uds": str(uds)} if uds else {"host": "127.0.0.1", "port": self.port}
        )
        config = uvicorn.Config(app, log_level="warning", **where, **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def db_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings of a fresh database for the whole run; dropped at the end."""
    if PG_URL:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield Settings(
                database_url=PG_URL,
                database_schema=schema,
                load_demo_data=False,
                fixtures_dir=FIXTURES,
                limits=TEST_LIMITS,
                notify=NO_NOTIFIER,
            )
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "socle.db"
        yield Settings(
            database_url=f"sqlite:///{path}",
            load_demo_data=False,
            fixtures_dir=FIXTURES,
            scheduler=NO_SCHEDULER,
            limits=TEST_LIMITS,
            notify=NO_NOTIFIER,
        )


@pytest.fixture(scope="session")
def engine(db_settings: Settings) -> Iterator[Engine]:
    eng = make_engine(db_settings.database_url, schema=db_settings.database_schema)
    upgrade(eng)
    yield eng
    eng.dispose()


WINDOW = "audit_purge_window"


def _truncate(eng: Engine) -> None:
    # Usage counts are written by each process every few seconds: a previous test's pending
    # counts are written now, before the tables are emptied, not into the next test's data.
    with contextlib.suppress(Exception):
        usage.flush_all()
    tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name != WINDOW]
    # Servers kept between tests (the session's, a module's) work in the background: one of
    # their transactions may hold one table and read another while TRUNCATE locks them all,
    # and PostgreSQL then cancels one of the two (DeadlockDetected). Whichever it chose, the
    # emptying is tried again.
    for attempt in range(5):
        try:
            _empty(eng, tables)
            return
        except OperationalError as exc:
            if attempt == 4 or not isinstance(exc.orig, DeadlockDetected):
                raise
            time.sleep(0.1)


# Every sequence owned by a column of these tables (in the engine's schema) back at its start.
_RESTART_SEQUENCES = text(
    """
    SELECT setval(seq.seqrelid, seq.seqstart, false)
    FROM pg_sequence seq
    JOIN pg_depend dep ON dep.objid = seq.seqrelid AND dep.classid = 'pg_class'::regclass
    JOIN pg_class owner ON owner.oid = dep.refobjid
    WHERE dep.deptype IN ('a', 'i') AND owner.relname = ANY(:tables)
      AND owner.relnamespace = current_schema()::regnamespace
    """
)


def _empty(eng: Engine, tables: list[str]) -> None:
    with eng.begin() as conn:
        # The audit trail is append-only: only an open purge window lets its rows go.
        conn.execute(text(f"INSERT INTO {WINDOW} (opened_at) VALUES (CURRENT_TIMESTAMP)"))
        if eng.dialect.name == "postgresql":
            # TRUNCATE makes new files for every table and index it names (over 100 ms for
            # all of them): only the tables holding rows are named, and the sequences of all
            # are restarted (a rolled-back insert moves a sequence and leaves its table empty).
            probe = " UNION ALL ".join(
                f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables
            )
            filled = [row[0] for row in conn.execute(text(probe))]
            if filled:
                names = ", ".join(f'"{t}"' for t in filled)
                conn.execute(text(f"TRUNCATE {names} CASCADE"))
            conn.execute(_RESTART_SEQUENCES, {"tables": tables})
        else:
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))
        conn.execute(text(f"DELETE FROM {WINDOW}"))


@pytest.fixture()
def scheduled_jobs(
    engine: Engine, session_factory: sessionmaker[Session], db_settings: Settings
) -> BackgroundScheduler:
    """The elected scheduler's jobs for the test settings, added but not started."""
    jobs = BackgroundScheduler(timezone="Europe/Paris")
    scheduler.add_jobs(jobs, engine, session_factory, db_settings)
    return jobs


@pytest.fixture()
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A clean database for each test that asks for one."""
    _truncate(engine)
    yield make_session_factory(engine)


@pytest.fixture()
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_scope(session_factory) as sess:
        yield sess


@pytest.fixture(scope="session")
def live_app(db_settings: Settings, engine: Engine) -> Iterator[ThreadedServer]:
    """The real application served over HTTP for the whole run (INSi: its embedded mock)."""
    port = free_port()
    # No embedded scheduler: served for the whole run, it would stand for the scheduler's
    # election all along and win it from the tests that check that election themselves.
    settings = db_settings.model_copy(
        update={"host": "127.0.0.1", "port": port, "scheduler": NO_SCHEDULER}
    )
    app = create_app(settings)
    with ThreadedServer(app, port=port) as server:
        yield server


@pytest.fixture()
def keys(session_factory: sessionmaker[Session]) -> dict[str, str]:
    """One key per scope (named after it), plus 'all' with every scope."""
    out: dict[str, str] = {}
    with session_scope(session_factory) as sess:
        for scope in SCOPES:
            _, out[scope] = create_api_key(
                sess, client_name=f"client-{scope}", scopes=[scope], finess="690999016"
            )
        _, out["all"] = create_api_key(sess, client_name="client-all", scopes=list(SCOPES))
        _, out["vigilance"] = create_api_key(
            sess, client_name="vigilance", scopes=["identity:read", "identity:merge"]
        )
        _, out["reader"] = create_api_key(
            sess,
            client_name="reader-writer",
            scopes=["identity:read", "identity:write"],
            finess="670999911",
        )
    return out


class Api:
    """An HTTP client against the live app that picks a key per call."""

    def __init__(self, base_url: str, keys: dict[str, str]) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)
        self.keys = keys

    def request(
        self, method: str, path: str, *, key: str | None = "all", **kw: object
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
        if key is not None:
            headers["Authorization"] = f"Bearer {self.keys.get(key, key)}"
        return self.client.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]

    def get(self, path: str, **kw: object) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: object) -> httpx.Response:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: object) -> httpx.Response:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: object) -> httpx.Response:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: object) -> httpx.Response:
        return self.request("DELETE", path, **kw)


@pytest.fixture()
def api(live_app: ThreadedServer, keys: dict[str, str]) -> Iterator[Api]:
    client = Api(live_app.url, keys)
    yield client
    client.client.close()
