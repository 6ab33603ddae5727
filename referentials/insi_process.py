"""The INSi process: `socle serve` runs the INSi searches in a process of their own.

Why: an INSi search spends about three times a read's CPU in the process that serves it (the
SOAP client, two short transactions), in bursts that take that process's interpreter lock
from the reads and writes it serves at the same time. With the searches in the workers, reads
and creations beside 8 searching callers kept 87-90 % of their throughput on two cores; with
this process, 90-97 % on PostgreSQL and for SQLite's creations (README, "The INSi process",
under Performance).

How: the server starts this process beside its workers. It serves the same application on a
Unix socket in a folder only the service's user can open; the workers forward the INSi routes
there (referentials/core/delegate.py) and serve them themselves while it cannot be reached.
It takes no part in the elections of the scheduler and of the notification worker. The server
restarts it when it stops, and stops it when the server stops; it removes its folder and stops
by itself if the server that started it is gone.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("socle.insi_process")
SOCKET_NAME = "insi.sock"
RESTART_DELAY_SECONDS = 1.0

# What the INSi process does not do: the elected jobs stay with the workers, the database is
# already prepared, and it serves its searches itself.
CHILD_SETTINGS = {
    "SOCLE_INSI__DELEGATE_SOCKET": "",
    "SOCLE_SCHEDULER__ENABLED": "false",
    "SOCLE_NOTIFY__EMBEDDED": "false",
    "SOCLE_PREPARE_ON_START": "false",
}


class InsiProcess:
    """Starts, watches and stops the INSi process of one `socle serve`."""

    def __init__(self) -> None:
        # mkdtemp makes the folder readable by this user only (0700): so is the socket in it.
        self.folder = Path(tempfile.mkdtemp(prefix="socle-insi-"))
        self.socket_path = str(self.folder / SOCKET_NAME)
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        # A restart and a stop never cross: no process is started once the stop has begun.
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, name="insi-process", daemon=True)

    def start(self) -> InsiProcess:
        self.process = self._spawn()
        self._watcher.start()
        return self

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "referentials.cli", "insi-process"]
        command += ["--socket", self.socket_path, "--parent", str(os.getpid())]
        # A session of its own: a Ctrl-C at the terminal reaches the server, which stops it,
        # rather than both at once (the watcher would take its exit for a crash).
        env = {**os.environ, **CHILD_SETTINGS}
        return subprocess.Popen(command, env=env, start_new_session=True)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self.process
            assert process is not None
            code = process.wait()
            if self._stopping.is_set():
                return
            log.warning("the INSi process stopped (exit %s): restarting it", code)
            self._stopping.wait(RESTART_DELAY_SECONDS)
            with self._lock:
                if self._stopping.is_set():
                    return
                self.process = self._spawn()

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None and process.poll() is None:
            end_process(process, signal.SIGTERM, timeout=15)
        shutil.rmtree(self.folder, ignore_errors=True)


def end_process(process: subprocess.Popen[Any], stop: int, *, timeout: float) -> None:
    """Send ``stop`` to ``process`` and wait for it; kill it if it has not ended in time."""
    process.send_signal(stop)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve_searches(socket_path: str, parent: int, log_level: str | None) -> None:
    """Serve the application on ``socket_path`` until stopped, or until ``parent`` is gone."""
    import uvicorn

    folder = Path(socket_path).parent
    watch = threading.Thread(target=_leave_with, args=(parent, folder), name="parent", daemon=True)
    watch.start()
    uvicorn.run(
        "referentials.app:create_app",
        factory=True,
        uds=socket_path,
        # Only the workers can reach the socket: the caller's address is the one they send.
        proxy_headers=True,
        forwarded_allow_ips="*",
        log_level=log_level,
        # The workers write the access log of what they forward.
        access_log=False,
    )


def _leave_with(parent: int, folder: Path) -> None:
    # A server killed outright cannot stop its INSi process, nor remove the socket's folder:
    # the process notices, does both (the folder first: uvicorn ends a process stopped by a
    # signal with that signal, before any code after it could run).
    while os.getppid() == parent:
        time.sleep(1.0)
    log.warning("the server that started the INSi process is gone: stopping")
    shutil.rmtree(folder, ignore_errors=True)
    os.kill(os.getpid(), signal.SIGTERM)
