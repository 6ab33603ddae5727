"""Sign-in throttling: failures per user name and per address lead to a lock-out delay."""

from __future__ import annotations

import re
import time

import httpx
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.login_throttle import LoginThrottle
from tests.reliability.conftest import ServeApp
from tests.reliability.test_pages_security import PASSWORD, _officer


def _attempt(client: httpx.Client, username: str, password: str) -> httpx.Response:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    form = {"username": username, "password": password, "csrf": token.group(1), "next": "/ui/"}
    return client.post("/login", data=form)


def test_a_user_is_locked_out_after_repeated_failures(
    serve_app: ServeApp, session_factory: sessionmaker[Session]
) -> None:
    _officer(session_factory)
    limits = {"login_failures_per_user": 3, "login_lockout_seconds": 2}
    with serve_app(limits=limits) as server, httpx.Client(base_url=server.url) as client:
        failures = [_attempt(client, "officer1", "wrong password!").status_code for _ in range(3)]
        assert failures == [401, 401, 401]
        # Locked: even the right password is refused, and the user name's case does not help.
        locked = _attempt(client, "OFFICER1", PASSWORD)
        assert locked.status_code == 429 and 1 <= int(locked.headers["Retry-After"]) <= 2
        assert "réessayez dans" in locked.text
        time.sleep(int(locked.headers["Retry-After"]) + 0.2)
        assert _attempt(client, "officer1", PASSWORD).status_code == 303


def test_an_address_is_locked_out_across_user_names(serve_app: ServeApp) -> None:
    limits = {"login_failures_per_address": 4, "login_failures_per_user": 100}
    with serve_app(limits=limits) as server, httpx.Client(base_url=server.url) as client:
        statuses = [_attempt(client, f"guess{n}", "wrong password!").status_code for n in range(5)]
        assert statuses == [401, 401, 401, 401, 429]


def test_failures_older_than_the_window_are_forgotten() -> None:
    now = [0.0]
    throttle = LoginThrottle(
        per_user=2, window_seconds=60, lockout_seconds=30, clock=lambda: now[0]
    )
    throttle.failed("alice", "10.0.0.1")
    now[0] = 61.0
    throttle.failed("alice", "10.0.0.1")
    assert throttle.retry_after("alice", "10.0.0.2") == 0.0
    throttle.failed("alice", "10.0.0.1")
    assert throttle.retry_after("alice", "10.0.0.2") == 30.0
    now[0] = 91.0
    assert throttle.retry_after("alice", "10.0.0.2") == 0.0
    throttle.failed("bob", "10.0.0.3")
    throttle.succeeded("bob")
    throttle.failed("bob", "10.0.0.3")
    assert throttle.retry_after("bob", "10.0.0.4") == 0.0
