"""The served processes: one connection per turn from a shared listening socket, shared metrics."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from referentials.core import serving
from referentials.core.serving import FairAcceptLoop
from referentials.core.settings import Settings


class _Counted(asyncio.Protocol):
    made: list[asyncio.BaseTransport]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.append(transport)


def _accepted_per_turn(loop: asyncio.AbstractEventLoop, pending: int) -> list[int]:
    """Connections made in each turn of ``loop`` when ``pending`` arrive together.

    A connection accepted in one turn is made (its protocol called) a couple of turns later.
    """
    made: list[asyncio.BaseTransport] = []
    protocol = type("Protocol", (_Counted,), {"made": made})
    listener = socket.create_server(("127.0.0.1", 0), backlog=64)
    clients: list[socket.socket] = []
    try:
        server = loop.run_until_complete(loop.create_server(protocol, sock=listener, backlog=64))
        # The kernel completes the handshakes: all of them wait in the accept queue at once.
        clients = [socket.create_connection(listener.getsockname()) for _ in range(pending)]
        counts: list[int] = []
        while len(made) < pending and len(counts) < 50:
            before = len(made)
            loop.call_soon(loop.stop)
            loop.run_forever()  # one turn
            counts.append(len(made) - before)
        for transport in made:
            transport.close()
        server.close()
        loop.run_until_complete(server.wait_closed())
        return counts
    finally:
        for client in clients:
            client.close()
        loop.close()


def test_one_connection_is_accepted_per_turn() -> None:
    counts = _accepted_per_turn(FairAcceptLoop(), 8)
    assert sum(counts) == 8, counts
    assert max(counts) == 1, counts


def test_asyncio_alone_takes_every_pending_connection_at_once() -> None:
    # Why the loop above exists: the first process to wake would take the whole pool.
    counts = _accepted_per_turn(asyncio.SelectorEventLoop(), 8)
    assert max(counts) == 8, counts


def test_a_served_process_freezes_its_start_up_heap(db_settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from referentials.app import create_app

    assert gc.get_freeze_count() == 0
    try:
        app = create_app(db_settings.model_copy(update={"freeze_heap_on_start": True}))
        with TestClient(app) as client:
            # The application, its routes and its mappings: far more than a handful.
            assert gc.get_freeze_count() > 50_000
            assert client.get("/health").status_code == 200
    finally:
        gc.unfreeze()


def test_applications_built_elsewhere_do_not_freeze(db_settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from referentials.app import create_app

    assert db_settings.freeze_heap_on_start is False
    with TestClient(create_app(db_settings)):
        assert gc.get_freeze_count() == 0


def test_socle_serve_asks_its_processes_to_freeze() -> None:
    # The command's own setting, read by each worker it starts (their settings are rebuilt).
    code = (
        "import os, sys; from unittest import mock; from referentials import cli;"
        "run = mock.patch('uvicorn.run').start();"
        "mock.patch.object(cli, '_production_check').start();"
        "mock.patch('referentials.bootstrap.prepare_database').start();"
        "cli.serve(host=None, port=None, workers=1);"
        "print(os.environ['SOCLE_FREEZE_HEAP_ON_START'], cli.get_settings().freeze_heap_on_start)"
    )
    env = {k: v for k, v in os.environ.items() if k != "SOCLE_FREEZE_HEAP_ON_START"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["true", "True"]


def test_several_served_processes_share_a_private_metrics_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    environ: dict[str, str] = {}
    folder = serving.shared_metrics_directory(environ, 3)
    assert folder is not None and folder.parent == tmp_path
    assert folder.is_dir() and not any(folder.iterdir())
    assert environ == {serving.MULTIPROCESS_ENV: str(folder)}
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_one_process_or_the_operators_directory_needs_none_made() -> None:
    alone: dict[str, str] = {}
    assert serving.shared_metrics_directory(alone, 1) is None and alone == {}
    chosen = {serving.MULTIPROCESS_ENV: "/run/socle-metrics"}
    assert serving.shared_metrics_directory(chosen, 3) is None
    assert chosen == {serving.MULTIPROCESS_ENV: "/run/socle-metrics"}


def test_a_killed_servers_metrics_directory_is_removed_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    orphan = tmp_path / f"{serving.METRICS_PREFIX}{int(gone.stdout)}-abc"
    running = tmp_path / f"{serving.METRICS_PREFIX}{os.getpid()}-def"
    unrelated = tmp_path / "socle-metrics-notes"
    for folder in (orphan, running, unrelated):
        folder.mkdir()
    (orphan / "counter_1234.db").write_bytes(b"\0" * 16)
    environ: dict[str, str] = {}
    made = serving.shared_metrics_directory(environ, 2)
    assert made is not None and made.name.startswith(f"{serving.METRICS_PREFIX}{os.getpid()}-")
    assert not orphan.exists()
    assert running.exists() and unrelated.exists() and made.exists()
