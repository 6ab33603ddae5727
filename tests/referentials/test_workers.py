"""Several workers and instances: the scheduler runs in exactly one, elected by the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from referentials.app import create_app
from referentials.core.db import make_engine, make_session_factory
from referentials.core.runs import RunLock
from referentials.core.settings import Settings
from referentials.insi_process import end_process
from tests.conftest import ROOT, ThreadedServer, free_port


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _instance(db_settings: Settings) -> ThreadedServer:
    scheduler = db_settings.scheduler.model_copy(
        update={"enabled": True, "leader_lease_seconds": 0.6}
    )
    settings = db_settings.model_copy(update={"scheduler": scheduler})
    return ThreadedServer(create_app(settings))


def _leaders(servers: list[ThreadedServer]) -> list[ThreadedServer]:
    return [s for s in servers if s.app.state.scheduler.leading]


def test_two_instances_elect_one_scheduler_and_the_other_takes_over(
    db_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    first, second = _instance(db_settings), _instance(db_settings)
    with first, second:
        both = [first, second]
        assert _wait_for(lambda: len(_leaders(both)) == 1, 5), "no leader elected"
        time.sleep(1.5)  # several renewals later: still exactly one
        (leader,) = _leaders(both)
        assert leader.app.state.scheduler.running.get_jobs(), "the leader has no job"
        follower = second if leader is first else first
        assert follower.app.state.scheduler.running is None
        leader.__exit__()
        assert _wait_for(lambda: follower.app.state.scheduler.leading, 3), "no takeover"
    with session_factory() as session:
        lease = session.scalar(select(RunLock).where(RunLock.name == "leader:scheduler"))
    assert lease is not None and lease.owner == follower.app.state.scheduler.election.holder


def _serve(
    url: str, port: int, workers: int, stderr: Path | None = None, **settings: str
) -> subprocess.Popen[str]:
    """`socle serve` on ``url`` in a process of its own, its stdout (the access log) piped,
    its stderr (the application's log) to ``stderr`` when given."""
    env = {
        **os.environ,
        "SOCLE_DATABASE_URL": url,
        "SOCLE_LOAD_DEMO_DATA": "false",
        "SOCLE_BOOTSTRAP_API_KEY": "sk_workers_test_key",
        **settings,
    }
    env.pop("SOCLE_TEST_DATABASE_URL", None)
    command = [sys.executable, "-m", "referentials.cli", "serve", "--workers", str(workers)]
    return subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr.open("w") if stderr else subprocess.DEVNULL,
        text=True,
    )


def _read_the_feed(port: int, times: int) -> None:
    """Once the served processes answer, read the event feed ``times`` times with the key."""
    base = f"http://127.0.0.1:{port}"
    assert _wait_for(lambda: _healthy(base), 60), "the server did not start"
    headers = {"Authorization": "Bearer sk_workers_test_key"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        for _ in range(times):
            assert client.get("/api/v1/events").status_code == 200


def test_serve_with_two_workers_answers_and_runs_one_scheduler(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    port = free_port()
    server = _serve(url, port, 2, SOCLE_SCHEDULER__LEADER_LEASE_SECONDS="1")
    try:
        _read_the_feed(port, 40)
        engine = make_engine(url)
        assert _wait_for(lambda: _one_lease(engine), 5)
        # The worker processes (and the start method's helper) are the server's children.
        children = _worker_pids(server.pid)
        assert len(children) >= 2, children
        assert int(_lease_holder(engine).split(":")[1]) in children
    finally:
        _stop(server)


def test_the_workers_log_as_the_server_does(tmp_path: Path) -> None:
    # Spawned afresh, the workers do not inherit the server's logging: their lines below
    # WARNING were lost, the others printed bare.
    log = tmp_path / "server.err"
    port = free_port()
    server = _serve(f"sqlite:///{tmp_path / 'log.db'}", port, 2, stderr=log)
    try:
        _read_the_feed(port, 1)
        elected = "leads: scheduler"
        assert _wait_for(lambda: elected in log.read_text(), 10), log.read_text()[-2000:]
        (line,) = [line for line in log.read_text().splitlines() if elected in line]
        # INFO:socle.leader:<host>:<pid>:<token> leads: scheduler, from one of the workers
        assert line.startswith("INFO:socle.leader:"), line
        assert int(line.split(":")[3]) in _worker_pids(server.pid), line
        assert "INFO:socle.scheduler:scheduler elected; jobs [" in log.read_text()
    finally:
        _stop(server)


def _stop(server: subprocess.Popen[str]) -> None:
    """Stop a `socle serve` as Ctrl-C would; kill it if it has not ended within 20 s."""
    end_process(server, signal.SIGINT, timeout=20)


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _one_lease(engine: Engine) -> bool:
    with make_session_factory(engine)() as session:
        return (
            len(list(session.scalars(select(RunLock).where(RunLock.name == "leader:scheduler"))))
            == 1
        )


def _lease_holder(engine: Engine) -> str:
    with make_session_factory(engine)() as session:
        return str(session.scalar(select(RunLock.owner).where(RunLock.name == "leader:scheduler")))


def _worker_pids(parent: int) -> set[int]:
    found = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True, text=True, check=False
    )
    return {int(p) for p in found.stdout.split()}


@pytest.mark.parametrize(("level", "lines"), [("INFO", 3), ("WARNING", 0)])
def test_serve_writes_its_access_log_at_the_configured_level(
    tmp_path: Path, level: str, lines: int
) -> None:
    """SOCLE_LOG_LEVEL governs uvicorn's access log too (one INFO line per request)."""
    port = free_port()
    server = _serve(f"sqlite:///{tmp_path / 'log.db'}", port, 1, SOCLE_LOG_LEVEL=level)
    try:
        _read_the_feed(port, 3)
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=20)
    assert out.count('"GET /api/v1/events HTTP/1.1" 200') == lines, out
