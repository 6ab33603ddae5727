"""SQLite writers' turn: given back only once the database has committed or rolled back."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, text

from referentials.core import db
from referentials.core.bulk_insert import insert_tuples
from referentials.core.db import make_engine


def _engine(tmp_path: Path) -> tuple[Engine, Path]:
    path = tmp_path / "turn.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER, pad TEXT)"))
    return engine, path


def _next_writer(path: Path, started: threading.Event, outcome: list[str]) -> None:
    """Another process's writer: waits for the turn, then must write at once, never busy."""
    handle = os.open(f"{path}.writers", os.O_RDWR)
    try:
        raw = sqlite3.connect(path, timeout=0)  # no busy wait: a held lock is an error
        started.set()
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("INSERT INTO t (x) VALUES (-1)")
            raw.commit()
            outcome.append("wrote")
        except sqlite3.OperationalError as exc:
            outcome.append(str(exc))
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            raw.close()
    finally:
        os.close(handle)


def test_the_next_writer_finds_the_database_committed(tmp_path: Path) -> None:
    engine, path = _engine(tmp_path)
    # A large transaction: its COMMIT writes thousands of pages, long enough to be met by a
    # writer that got the turn before the COMMIT had returned.
    rows = [{"x": i, "pad": "p" * 400} for i in range(20_000)]
    for attempt in range(3):
        outcome: list[str] = []
        started = threading.Event()
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO t (x, pad) VALUES (:x, :pad)"), rows)
            waiter = threading.Thread(target=_next_writer, args=(path, started, outcome))
            waiter.start()
            assert started.wait(10)
            conn.commit()
        waiter.join(30)
        assert outcome == ["wrote"], (attempt, outcome)
    engine.dispose()


def test_a_rolled_back_writer_gives_the_turn_back(tmp_path: Path) -> None:
    engine, path = _engine(tmp_path)
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t (x) VALUES (1)"))
        conn.rollback()
        outcome: list[str] = []
        started = threading.Event()
        waiter = threading.Thread(target=_next_writer, args=(path, started, outcome))
        waiter.start()
        waiter.join(10)
        assert outcome == ["wrote"]
        # The same connection takes the turn again for its next write, and gives it back.
        conn.execute(text("INSERT INTO t (x) VALUES (2)"))
        conn.commit()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2
    engine.dispose()


class _Rows:
    """Table t, as insert_tuples takes it (a mapped class's table)."""

    __table__ = Table("t", MetaData(), Column("x", Integer), Column("pad", Text))


def test_a_bulk_insert_takes_the_turn_before_the_lock(tmp_path: Path) -> None:
    """insert_tuples writes one executemany, past the ORM: it takes the turn all the same.

    Without it, a writer holding the turn would wait on the lock this connection holds, while
    this one waited for the turn at its next write: both stuck until one's busy timeout.
    """
    engine, path = _engine(tmp_path)
    outcome: list[str] = []
    started = threading.Event()
    with engine.connect() as conn:
        insert_tuples(conn, _Rows, ("x", "pad"), [(i, "p") for i in range(100)])
        waiter = threading.Thread(target=_next_writer, args=(path, started, outcome))
        waiter.start()
        assert started.wait(10)
        time.sleep(0.3)  # the waiter's turn to write, if nothing holds it back
        conn.execute(text("INSERT INTO t (x) VALUES (100)"))
        conn.commit()
    waiter.join(30)
    assert outcome == ["wrote"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 102
    engine.dispose()


def test_a_second_connection_of_the_thread_holding_the_turn_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread that holds the turn through one connection and writes through another (of any
    engine on the file) would wait for itself forever: it gets an error after a bounded wait
    instead."""
    monkeypatch.setattr(db, "SELF_WAIT_SECONDS", 0.3)
    engine, _path = _engine(tmp_path)
    other = make_engine(engine.url.render_as_string(hide_password=False))
    outcome: list[str] = []

    def write_twice() -> None:
        with engine.connect() as first, other.connect() as second:
            first.execute(text("INSERT INTO t (x) VALUES (1)"))
            try:
                second.execute(text("INSERT INTO t (x) VALUES (2)"))
            except RuntimeError as error:
                outcome.append(str(error))
            first.commit()
            # Given back at the commit: the other connection writes now.
            second.execute(text("INSERT INTO t (x) VALUES (3)"))
            second.commit()
            outcome.append("wrote")

    writer = threading.Thread(target=write_twice, daemon=True)
    writer.start()
    writer.join(timeout=30)
    assert len(outcome) == 2, "stuck"
    assert "already holds the SQLite writers' turn" in outcome[0] and outcome[1] == "wrote"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 3]
    other.dispose()
    engine.dispose()


def test_a_turn_another_thread_gives_back_is_waited_for(tmp_path: Path) -> None:
    """A request's session written in one thread of the server's pool may be committed in
    another (FastAPI's teardown) while the first thread already runs the next request: that
    request's write waits for the turn, then goes through (it was refused at once before)."""
    engine, _path = _engine(tmp_path)
    first = engine.connect()
    first.execute(text("INSERT INTO t (x) VALUES (1)"))  # this thread takes the turn
    committer = threading.Timer(0.3, first.commit)  # another thread gives it back
    committer.start()
    started = time.monotonic()
    with engine.connect() as second:
        second.execute(text("INSERT INTO t (x) VALUES (2)"))
        second.commit()
    waited = time.monotonic() - started
    committer.join()
    first.close()
    assert waited >= 0.25  # it waited for the other thread's commit
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2]
    engine.dispose()
