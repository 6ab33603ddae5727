"""With every logger at DEBUG, the MLLP listener (accepted, refused and foreign messages, bad
handshakes) and the throttled sign-in log no identity trait, password or key."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from identity.hl7v2.mllp import frame
from tests.identity.test_hl7v2 import sample
from tests.identity.test_hl7v2_mllp import receive
from tests.identity.test_hl7v2_mllp_tls import (  # noqa: F401  (fixtures)
    Pki,
    World,
    exchange,
    pki,
    tls_connect,
    world,
)
from tests.reliability.conftest import ServeApp
from tests.reliability.test_no_traits_in_logs import TRAITS, Collect
from tests.reliability.test_pages_security import PASSWORD, _officer


@pytest.fixture()
def collect() -> Iterator[Collect]:
    handler, root = Collect(), logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.setLevel(level)
        root.removeHandler(handler)


def _leaks(lines: list[str], secrets: list[str]) -> list[str]:
    return [line for line in lines for word in [*TRAITS, *secrets] if word.lower() in line.lower()]


def test_the_mllp_listener_logs_no_trait(world: World, collect: Collect, tmp_path: Path) -> None:  # noqa: F811
    for name in ("a28_create.hl7", "a28_create_ins.hl7", "a31_update.hl7"):
        exchange(world, world.chfm, name)
        exchange(world, world.other, name)
        exchange(world, world.unmapped, name)
    rogue = Pki(tmp_path, "Rogue CA").issue("rogue")
    with pytest.raises((ssl.SSLError, ConnectionError)), tls_connect(world, rogue) as sock:
        sock.sendall(frame(sample("a28_create.hl7")))
        receive(sock)
    with socket.create_connection(("127.0.0.1", world.server.port), timeout=10) as plain:
        plain.sendall(frame(sample("a28_create.hl7")))
        plain.settimeout(2)
        with contextlib.suppress(TimeoutError, ConnectionError):
            plain.recv(100)
    assert any("mllp" in line for line in collect.lines), collect.lines[:5]
    assert _leaks(collect.lines, []) == []


def test_the_throttled_sign_in_logs_no_password(
    serve_app: ServeApp, session_factory: sessionmaker[Session], collect: Collect
) -> None:
    _officer(session_factory)
    limits = {"login_failures_per_user": 2}
    with serve_app(limits=limits) as server, httpx.Client(base_url=server.url) as client:
        for password in ("Vauquelinot1961", "Vauquelinot1961", PASSWORD):
            page = client.get("/login")
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token
            form = {"username": "officer1", "password": password, "csrf": token.group(1)}
            client.post("/login", data=form)
    assert _leaks(collect.lines, ["Vauquelinot1961", PASSWORD]) == []
