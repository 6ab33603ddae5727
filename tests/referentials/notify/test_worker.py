"""The background worker with real receivers: a slow one and a down one never delay a healthy
one; a down one gets everything once back; a killed worker process loses nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from identity.referential.history import emit_many
from referentials.core.db import session_scope
from referentials.core.notify.worker import NotifyWorker
from referentials.core.principal import SYSTEM
from referentials.core.settings import Settings
from tests.conftest import ROOT
from tests.referentials.notify.conftest import FAST, subscribe
from tests.referentials.notify.receiver import Receiver

IDENTITIES = 20


def burst(factory: sessionmaker[Session], count: int, *, first: int = 0) -> None:
    """``count`` updates spread over IDENTITIES identities, committed in small transactions."""
    for start in range(first, first + count, 10):
        with session_scope(factory) as session:
            emit_many(
                session,
                SYSTEM,
                [
                    ("identity.updated", 1000 + i % IDENTITIES, {"changed": ["n"], "n": i})
                    for i in range(start, min(start + 10, first + count))
                ],
            )


def assert_in_order_per_identity(events: list[dict[str, Any]]) -> None:
    """Per identity, cursors never go back; a repeat is the same event (same key, same body)."""
    seen: dict[str, dict[str, Any]] = {}
    last: dict[int, int] = defaultdict(int)
    for e in events:
        identity = e["data"]["identity_id"]
        assert e["cursor"] >= last[identity], (
            f"identity {identity}: {e['cursor']} after {last[identity]}"
        )
        last[identity] = e["cursor"]
        if e["id"] in seen:
            assert {k: v for k, v in e.items() if k != "attempt"} == {
                k: v for k, v in seen[e["id"]].items() if k != "attempt"
            }
        seen[e["id"]] = e


def wait(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_slow_and_down_subscribers_do_not_delay_a_healthy_one(
    session_factory: sessionmaker[Session], engine: Engine, wired: None
) -> None:
    healthy, slow, down = Receiver(), Receiver(), Receiver()
    slow.delay = 0.5
    down.down()
    for i, r in enumerate((healthy, slow, down)):
        subscribe(session_factory, r.url, client=f"c{i}", event_types=["identity.updated"])
    worker = NotifyWorker(engine, FAST).start()
    try:
        burst(session_factory, 200)
        wait(lambda: len(healthy.received) >= 200, timeout=30)
        # The healthy one is done while the slow one is far behind and the down one has nothing.
        assert len(slow.received) < 100
        assert down.received == []
        down.up()
        wait(lambda: len(down.received) >= 200, timeout=30)
    finally:
        worker.stop()
        for r in (healthy, slow, down):
            r.down()
    for r in (healthy, down):
        assert len({e["id"] for e in r.events()}) == 200
        assert_in_order_per_identity(r.events())
    assert_in_order_per_identity(slow.events())


def _worker_process(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SOCLE_DATABASE_URL": settings.database_url,
        "SOCLE_DATABASE_SCHEMA": settings.database_schema,
        "SOCLE_NOTIFY__POLL_SECONDS": "0.05",
        "SOCLE_NOTIFY__BREAKER_COOLDOWN_SECONDS": "0.3",
        "SOCLE_NOTIFY__BACKOFF_BASE_SECONDS": "0.05",
        "SOCLE_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "referentials.cli", "notify"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_killed_worker_process_loses_nothing_and_keeps_each_identity_in_order(
    session_factory: sessionmaker[Session], db_settings: Settings, wired: None
) -> None:
    receiver = Receiver()
    receiver.delay = 0.01
    subscribe(session_factory, receiver.url, event_types=["identity.updated"])
    burst(session_factory, 300)
    first = _worker_process(db_settings)
    try:
        wait(lambda: len(receiver.received) >= 60, timeout=60)
        first.kill()  # no goodbye: whatever was in flight is unrecorded
        first.wait()
        killed_at = len(receiver.received)
        burst(session_factory, 100, first=300)
        second = _worker_process(db_settings)
        try:
            wait(lambda: len({e["id"] for e in receiver.events()}) >= 400, timeout=60)
        finally:
            second.terminate()
            assert second.wait(timeout=20) == 0, second.stderr.read() if second.stderr else ""
    finally:
        if first.poll() is None:
            first.kill()
        receiver.down()
    events = receiver.events()
    assert killed_at < 300
    assert len({e["id"] for e in events}) == 400
    assert_in_order_per_identity(events)
