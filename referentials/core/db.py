"""Engine, declarative base and session handling (one transaction per request or job)."""

from __future__ import annotations

import fcntl
import os
import select
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg import pq
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Concurrent writers wait rather than fail at once.
    cursor.execute("PRAGMA busy_timeout=10000")
    # Reads of a large referential (1M identities and their keys) stay in memory: a 64 MB page
    # cache per connection, and memory-mapped reads (capped at 256 MB, since mapped pages count
    # in the process's resident memory) instead of a system call per page.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")
_WRITER = "sqlite_write_turn"
# Per thread, the SQLite files whose writers' turn it holds (through any engine).
_TURNS = threading.local()


def _turns_held() -> set[str]:
    held: set[str] | None = getattr(_TURNS, "files", None)
    if held is None:
        held = _TURNS.files = set()
    return held


# How long a thread waits for a turn it took itself through another connection (see take).
SELF_WAIT_SECONDS = 10.0


def _take_within(turn: threading.Lock, handle: int, seconds: float) -> bool:
    """Take the process's turn, then the file's lock, within ``seconds``; False if not (and
    then nothing is held)."""
    deadline = time.monotonic() + seconds
    if not turn.acquire(timeout=seconds):
        return False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                turn.release()
                return False
            time.sleep(0.005)


def _queue_sqlite_writers(engine: Engine, database: str) -> None:
    """Let SQLite writers queue on a lock instead of polling the database file's lock.

    SQLite has one writer at a time and makes the others retry with growing sleeps (up to
    100 ms each), so under many concurrent writers some starve for seconds. A connection takes
    the turn before its first write and gives it back at commit or rollback (or when it returns
    to the pool): a thread lock within the process, then an ``flock`` on a file beside the
    database across the processes (the workers of `socle serve`). Waiters sleep in the kernel
    and are woken as soon as the turn is free.
    """
    turn = threading.Lock()
    path = f"{database}.writers"
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    weakref.finalize(engine, os.close, handle)

    def take(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if conn.info.get(_WRITER) is not None:
            return
        head = statement.lstrip()[:9].upper()
        # A savepoint that opens the transaction (the driver begins one only before a write)
        # starts a deferred one: its reads take a snapshot, and a write after another
        # connection's commit fails at once ("database is locked": SQLite cannot move a
        # reader's snapshot, and no wait helps). Such a transaction takes the turn and
        # SQLite's write lock before its first read. A savepoint inside a transaction that
        # has only read is left alone: it is the driver's, which has begun nothing.
        opens = head.startswith("SAVEPOINT") and not conn.connection.dbapi_connection.in_transaction
        # An explicit write transaction (a directory load's, bulk_load.begin_write) takes the
        # turn before SQLite's lock too: the other way round, a writer holding the turn would
        # wait on SQLite's lock while this one waited for the turn at its next write.
        explicit = head in ("BEGIN IMM", "BEGIN EXC")
        if opens or explicit or head[:6] in _WRITES:
            held = _turns_held()
            if path not in held:
                turn.acquire()
                fcntl.flock(handle, fcntl.LOCK_EX)
            elif not _take_within(turn, handle, SELF_WAIT_SECONDS):
                # Taken in this thread through another connection. Often another thread gives
                # it back soon: a request's session written in one thread of the server's pool
                # is committed in another (FastAPI's teardown) while the first thread already
                # runs the next request. If not, this thread waits for itself: it would never
                # end.
                raise RuntimeError(
                    "this thread already holds the SQLite writers' turn on another connection "
                    f"(not given back within {SELF_WAIT_SECONDS:g} s: write through that "
                    "connection, or commit it first)"
                )
            held.add(path)
            conn.info[_WRITER] = held
            if opens:
                cursor.execute("BEGIN IMMEDIATE")

    def give_back(info: dict[str, Any]) -> None:
        held = info.pop(_WRITER, None)
        if held is not None:
            held.discard(path)  # the set of the thread that took it, whichever gives it back
            fcntl.flock(handle, fcntl.LOCK_UN)
            turn.release()

    # Given back once the database's COMMIT or ROLLBACK has returned, not at the engine's
    # "commit" event (which comes before it): the next writer would otherwise meet the lock
    # still held and sleep in SQLite's busy handler (1, 2, 5, 10 ms...) with the turn in hand.
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def after(dbapi_connection: Any) -> None:
        try:
            info = dbapi_connection.info
        except (AttributeError, NotImplementedError):  # a bare connection: never took a turn
            return
        give_back(info)

    def do_commit(dbapi_connection: Any) -> None:
        try:
            commit(dbapi_connection)
        finally:
            after(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            rollback(dbapi_connection)
        finally:
            after(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]
    event.listen(engine, "before_cursor_execute", take)
    event.listen(engine.pool, "checkin", lambda _dbapi, record: give_back(record.info))


# Connections an idle SQLite pool keeps: each holds its page cache, and opening a file is
# cheap, so the rest open on demand and close when they come back.
SQLITE_KEPT = 10


def sqlite_file(url: URL) -> str | None:
    """The file of a SQLite database's URL; None for another database or one in memory."""
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    return path


def make_engine(url: str, *, schema: str = "", max_connections: int = 40, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get their folder, WAL and foreign keys.

    ``schema`` (PostgreSQL) sets the search_path, so one database can hold several instances.
    ``max_connections``: the most the pool opens at once.
    """
    parsed = make_url(url)
    # A failed statement's message (and any traceback logging it) never carries the bound
    # values: they are identity traits.
    kwargs.setdefault("hide_parameters", True)
    # A request holds one connection for its length; the thread pool runs up to 40 requests,
    # and the access writer, the usage flush and the feed relay take their own. Requests
    # beyond ``max_connections`` wait their turn (a queue), rather than fail.
    if parsed.get_backend_name() == "postgresql":
        # Every connection kept (no overflow): one beyond ``pool_size`` is closed when it comes
        # back to a full pool, so under load every request opened and closed one (a server
        # process forked and torn down each time).
        kwargs.setdefault("pool_size", max_connections)
        kwargs.setdefault("max_overflow", 0)
        # The connection given back last is taken first: at low load the same few stay in use,
        # with their prepared statements and their server process's caches warm, instead of
        # every request taking the coldest of them in turn.
        kwargs.setdefault("pool_use_lifo", True)
    if parsed.database != ":memory:":
        kwargs.setdefault("pool_size", min(SQLITE_KEPT, max_connections))
        kwargs.setdefault("max_overflow", max_connections - kwargs["pool_size"])
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(parsed)
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if path:
            _queue_sqlite_writers(engine, path)
        return engine
    if schema:
        kwargs.setdefault("connect_args", {})["options"] = f"-csearch_path={schema}"
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "checkout", _check_alive)
    return engine


_CONNECTION_OK = pq.ConnStatus.OK
_IDLE = pq.TransactionStatus.IDLE


def _check_alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled PostgreSQL connection that the server closed, without a round trip.

    A connection resting in the pool has nothing to read: the server sends nothing unasked.
    When it ends the session (a restart, ``pg_terminate_backend``, an idle timeout) it sends
    its goodbye and closes the socket, which then reads as ready. A ping (``pool_pre_ping``)
    would find the same, at the cost of a round trip on every checkout, that is on every
    request and every access-record write. Anything unexpected on the socket, or a broken
    state, discards the connection: the pool then checks out another one, or opens a new one.
    """
    pgconn = dbapi_connection.pgconn
    if pgconn.status != _CONNECTION_OK or pgconn.transaction_status != _IDLE:
        raise DisconnectionError("connection not usable")
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN)
    if poller.poll(0):
        raise DisconnectionError("connection closed by the server")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction for a job or a CLI command: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def end_transaction(session: Session) -> None:
    """Close the current transaction before a network call (nothing held while it waits).

    The one place where a request's transaction ends early: INSi searches read what they
    need, end it here (on SQLite this also ends the read snapshot, so a checkpoint or a
    writer never waits on it), call out, and apply the answer in a new, short transaction.
    Loaded objects are expired, so the next access reads them again.
    """
    session.commit()
    session.expire_all()


def commit_now(session: Session) -> None:
    """Commit a write request's transaction in the thread that made its writes.

    The request's session dependency commits too, but only after the endpoint has returned to
    the event loop and a worker thread has been found for the dependency's exit: under load that
    hop takes milliseconds to tens of milliseconds, all the while holding SQLite's one write lock
    (or PostgreSQL's row locks) that every other writer, and every read's access record, waits
    for. Loaded objects stay usable (sessions do not expire them on commit); the dependency's
    later commit has nothing left to do.
    """
    session.commit()
