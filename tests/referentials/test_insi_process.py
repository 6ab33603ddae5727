"""`socle serve` runs the INSi searches in a process of its own (referentials/insi_process.py)."""

from __future__ import annotations

import os
import signal
import socket
import stat
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port
from tests.referentials.test_delegate import ADRUN
from tests.referentials.test_workers import _healthy, _serve, _stop, _wait_for, _worker_pids

KEY = {"Authorization": "Bearer sk_workers_test_key"}
IDS = "/api/v1/identities"


def _searcher(server: int) -> tuple[int, str] | None:
    """The INSi process the server started, and its socket (None while there is none)."""
    for pid in _worker_pids(server):
        try:
            words = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except FileNotFoundError:
            continue
        if "insi-process" in words:
            return pid, words[words.index("--socket") + 1]
    return None


def _listening(path: str) -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(path)
        except OSError:
            return False
        return True


def _ready(server: int, base: str) -> tuple[int, str]:
    """Once the server answers and its INSi process listens: that process and its socket."""
    assert _wait_for(lambda: _healthy(base), 60), "the server did not start"
    assert _wait_for(lambda: _searcher(server) is not None, 30), "no INSi process"
    found = _searcher(server)
    assert found is not None
    assert _wait_for(lambda: _listening(found[1]), 60), "the INSi process did not start"
    return found


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode()
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_serve_forwards_searches_to_its_insi_process_and_restarts_it(tmp_path: Path) -> None:
    port = free_port()
    server = _serve(f"sqlite:///{tmp_path / 'insi.db'}", port, 1)
    base = f"http://127.0.0.1:{port}"
    try:
        searcher, socket_path = _ready(server.pid, base)
        folder = Path(socket_path).parent
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, "the socket's folder is not private"
        with httpx.Client(base_url=base, headers=KEY, timeout=30) as client:
            identity = client.post(IDS, json=ADRUN).json()["id"]
            search = f"{IDS}/{identity}/insi-search"
            # Stopped, the INSi process holds the search: the worker did forward it there.
            os.kill(searcher, signal.SIGSTOP)
            try:
                with pytest.raises(httpx.ReadTimeout):
                    client.post(search, timeout=3)
                assert client.get(f"{IDS}/{identity}").status_code == 200, "reads go on"
            finally:
                os.kill(searcher, signal.SIGCONT)
            # Resumed, it makes the search it was sent (its caller had gone).
            calls = f"{IDS}/{identity}/insi-calls"
            assert _wait_for(lambda: len(client.get(calls).json()) == 1, 15)
            assert client.get(calls).json()[0]["outcome"] == "applied"
            # Killed, it is started again, and searches go on meanwhile.
            # (Gone, not only a zombie: its other threads may still hold the socket open.)
            os.kill(searcher, signal.SIGKILL)
            assert _wait_for(lambda: not Path(f"/proc/{searcher}").exists(), 10)
            again = client.post(search)
            assert again.status_code == 200 and again.json()["outcome"] == "applied", again.text
            assert _wait_for(lambda: (_searcher(server.pid) or (searcher, ""))[0] != searcher, 30)
            restarted = _searcher(server.pid)
            assert restarted is not None
    finally:
        _stop(server)
    assert not folder.exists(), "the socket's folder outlived the server"
    assert not _alive(restarted[0]), "the INSi process outlived the server"


@pytest.mark.parametrize("workers", [1, 2])
def test_a_server_stopped_by_sigterm_cleans_up_as_after_a_ctrl_c(
    tmp_path: Path, workers: int
) -> None:
    """systemd and docker stop with SIGTERM: the INSi process, its folder and the metrics
    directory go with the server, however many workers serve."""
    port = free_port()
    server = _serve(f"sqlite:///{tmp_path / 'term.db'}", port, workers)
    try:
        searcher, socket_path = _ready(server.pid, f"http://127.0.0.1:{port}")
        metrics = Path(_environ(searcher)["PROMETHEUS_MULTIPROC_DIR"])
        assert metrics.is_dir()
        server.terminate()
        code = server.wait(timeout=30)
    finally:
        if server.poll() is None:
            _stop(server)
    # Ended by the signal with one worker (as uvicorn ends it), by the supervisor's exit with two.
    assert code == (-signal.SIGTERM if workers == 1 else 0)
    # Right after the exit: removed by the server itself, not later by an orphaned INSi process.
    assert not metrics.exists(), "the metrics directory outlived the server"
    assert not Path(socket_path).parent.exists(), "the socket's folder outlived the server"
    assert not _alive(searcher), "the INSi process outlived the server"


def _pending(pid: int, signum: int) -> bool:
    """Whether ``signum`` waits to be delivered to the process (it is stopped)."""
    status = Path(f"/proc/{pid}/status").read_text()
    masks = [int(line.split()[1], 16) for line in status.splitlines() if "Pnd:" in line]
    return any(mask >> (signum - 1) & 1 for mask in masks)


def test_a_second_sigterm_does_not_cut_the_clean_up_short(tmp_path: Path) -> None:
    """A supervisor that repeats its SIGTERM while the server waits for its INSi process to
    stop: the server still stops that process and removes what it made before it ends."""
    port = free_port()
    server = _serve(f"sqlite:///{tmp_path / 'twice.db'}", port, 1)
    try:
        searcher, socket_path = _ready(server.pid, f"http://127.0.0.1:{port}")
        metrics = Path(_environ(searcher)["PROMETHEUS_MULTIPROC_DIR"])
        # Stopped, the INSi process keeps the server's clean-up waiting for it: the server has
        # asked it to stop (a SIGTERM pending on it) when the second SIGTERM comes.
        os.kill(searcher, signal.SIGSTOP)
        server.terminate()
        assert _wait_for(lambda: _pending(searcher, signal.SIGTERM), 30), "no stop was asked"
        server.terminate()
        time.sleep(0.5)
        os.kill(searcher, signal.SIGCONT)
        code = server.wait(timeout=30)
    finally:
        if _alive(searcher):
            os.kill(searcher, signal.SIGCONT)
        if server.poll() is None:
            _stop(server)
    assert code == -signal.SIGTERM
    assert not metrics.exists(), "the metrics directory outlived the server"
    assert not Path(socket_path).parent.exists(), "the socket's folder outlived the server"
    assert not _alive(searcher), "the INSi process outlived the server"


def test_the_insi_process_stops_when_its_server_is_killed(tmp_path: Path) -> None:
    port = free_port()
    server = _serve(f"sqlite:///{tmp_path / 'orphan.db'}", port, 1)
    try:
        assert _wait_for(lambda: _searcher(server.pid) is not None, 60), "no INSi process"
        found = _searcher(server.pid)
        assert found is not None
        server.kill()
        server.wait()
        assert _wait_for(lambda: not _alive(found[0]), 15), "the INSi process outlived its server"
        assert _wait_for(lambda: not Path(found[1]).parent.exists(), 5), "its folder remains"
    finally:
        if server.poll() is None:
            _stop(server)


def test_serve_can_leave_the_searches_to_its_workers(tmp_path: Path) -> None:
    port = free_port()
    server = _serve(f"sqlite:///{tmp_path / 'own.db'}", port, 1, SOCLE_INSI__OWN_PROCESS="false")
    base = f"http://127.0.0.1:{port}"
    try:
        assert _wait_for(lambda: _healthy(base), 60), "the server did not start"
        with httpx.Client(base_url=base, headers=KEY, timeout=30) as client:
            identity = client.post(IDS, json=ADRUN).json()["id"]
            response = client.post(f"{IDS}/{identity}/insi-search")
            assert response.status_code == 200 and response.json()["outcome"] == "applied"
        assert _searcher(server.pid) is None
    finally:
        _stop(server)


def _counted(base: str) -> tuple[float, float]:
    """What /metrics counts (a new connection each time): the INSi calls, all operations and
    results, and the identities created (the requests that answered 201)."""
    response = httpx.get(f"{base}/metrics", headers=KEY, timeout=10)
    assert response.status_code == 200, response.text
    samples = [s for f in text_string_to_metric_families(response.text) for s in f.samples]
    created = {"method": "POST", "route": IDS, "status": "201"}
    return (
        sum(s.value for s in samples if s.name == "socle_insi_calls_total"),
        sum(
            s.value
            for s in samples
            if s.name == "socle_http_request_duration_seconds_count" and s.labels == created
        ),
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_metrics_add_up_the_workers_and_the_insi_process(tmp_path: Path, workers: int) -> None:
    """The INSi calls are made in the INSi process; any worker's /metrics counts them.

    With one worker, the server's own process serves: it must write its metrics to the shared
    directory too, though it made that directory itself.
    """
    port = free_port()
    server = _serve(f"sqlite:///{tmp_path / 'metrics.db'}", port, workers)
    base = f"http://127.0.0.1:{port}"
    try:
        searcher, _ = _ready(server.pid, base)
        with httpx.Client(base_url=base, headers=KEY, timeout=30) as client:
            identity = client.post(IDS, json=ADRUN).json()["id"]
            for _ in range(3):
                assert client.post(f"{IDS}/{identity}/insi-search").status_code == 200
            made = len(client.get(f"{IDS}/{identity}/insi-calls").json())
        assert made >= 3
        # Eight scrapes on new connections: with two workers, both answer some of them.
        assert {_counted(base) for _ in range(8)} == {(float(made), 1.0)}
        # The server made the processes' shared directory itself: private, and gone at the stop.
        folder = Path(_environ(searcher)["PROMETHEUS_MULTIPROC_DIR"])
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    finally:
        _stop(server)
    assert not folder.exists(), "the metrics directory outlived the server"
