"""The worker processes of `socle mllp --workers N`, which apply the messages its threads read.

Each worker applies one message at a time, sent to it over a pipe of its own by whichever
connection's thread took it from the idle ones: no queue between them, no pickled call, a few
tens of microseconds a message (a ProcessPoolExecutor cost about 2 ms of CPU a message, a third
of the message's own work). Each is started fresh (``spawn``: the listener already runs
threads, which a fork would copy mid-work), opens its own connections to the database and
builds its own matching settings, as a served process of `socle serve` does. A worker that dies
is started again; its message is answered "not stored, resend later". See
identity/hl7v2/mllp.py for why there are workers at all.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from identity.duplicates import service as duplicates
from identity.hl7v2 import mllp
from identity.hl7v2.mllp_auth import Peer
from referentials.app import duplicate_settings
from referentials.core.db import make_engine, make_session_factory
from referentials.core.settings import get_settings

log = logging.getLogger("socle.hl7v2.mllp")
READY = "ready"
STOP_SECONDS = 10.0


class NotStarted(RuntimeError):
    """A worker process ended before it was ready (its own log says why)."""


def _serve(conn: Connection) -> None:
    """A worker's life: its own connections and matching settings, then one message at a time."""
    # Ctrl-C reaches the whole process group: the listener stops its workers itself, once
    # the messages being applied are answered.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    settings = get_settings()
    logging.basicConfig(level=settings.log_level)
    duplicates.configure(duplicate_settings(settings))
    engine = make_engine(settings.database_url, schema=settings.database_schema)
    applier = mllp.Applier(make_session_factory(engine), settings.hl7)
    conn.send(READY)
    while True:
        try:
            raw, peer = conn.recv()
        except (EOFError, OSError):  # the listener closed the pipe, or is gone
            return
        conn.send(applier.answer(raw, peer))


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection


@dataclass
class _Ticket:
    """A connection's thread waiting for a worker, which is handed to it directly."""

    ready: threading.Event = field(default_factory=threading.Event)
    worker: _Worker | None = None


class Workers:
    """``count`` worker processes; ``answer`` sends a message to an idle one (see the module)."""

    def __init__(self, count: int) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._all: list[_Worker] = []
        self._closed = False
        # Idle workers, and the threads waiting for one in their order of arrival: a freed
        # worker goes to the longest waiting, never to a thread that came later (with a plain
        # queue, p99 was 3 times the mean at 16 connections).
        self._idle: list[_Worker] = []
        self._waiting: deque[_Ticket] = deque()
        for _ in range(count):
            self._give(self._start())

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe()
        # Daemonic: ended with the listener, whatever the way it ends.
        process = self._context.Process(
            target=_serve, args=(child,), name="mllp-worker", daemon=True
        )
        process.start()
        child.close()
        try:
            ready = parent.recv()
        except EOFError:
            ready = None
        if ready != READY:
            parent.close()
            raise NotStarted("an MLLP worker process ended before it was ready (see its log above)")
        worker = _Worker(process, parent)
        with self._lock:
            self._all.append(worker)
        return worker

    def _take(self) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            ticket = _Ticket()
            self._waiting.append(ticket)
        ticket.ready.wait()
        assert ticket.worker is not None
        return ticket.worker

    def _give(self, worker: _Worker) -> None:
        with self._lock:
            if not self._waiting:
                self._idle.append(worker)
                return
            ticket = self._waiting.popleft()
        ticket.worker = worker
        ticket.ready.set()

    def answer(self, raw: bytes, peer: Peer | None) -> str:
        worker = self._take()
        try:
            if not worker.process.is_alive():
                # Ended while idle (killed, out of memory): replaced before the message is sent.
                worker = self._replace(worker)
                if not worker.process.is_alive():  # none started; tried again at the next one
                    raise mllp.WorkerLost
            worker.conn.send((raw, peer))
            answer: str = worker.conn.recv()
        except (EOFError, OSError) as exc:
            worker = self._replace(worker)
            raise mllp.WorkerLost from exc
        finally:
            self._give(worker)
        return answer

    def _replace(self, ended: _Worker) -> _Worker:
        """A new worker in the place of one that ended; the ended one if none starts (another
        start is tried at its next message) or while the workers are being closed."""
        log.error("mllp: worker process %s ended; another is started", ended.process.pid)
        with self._lock:
            if self._closed:
                return ended
            self._all.remove(ended)
        ended.conn.close()
        ended.process.join(STOP_SECONDS)
        try:
            return self._start()
        except NotStarted:
            log.error("mllp: no worker process started; tried again at the next message")
            with self._lock:
                self._all.append(ended)
            return ended

    def close(self) -> None:
        """Stop every worker: each ends once its pipe is closed (after its current message)."""
        with self._lock:
            workers, self._all, self._closed = list(self._all), [], True
        for worker in workers:
            worker.conn.close()
        for worker in workers:
            worker.process.join(STOP_SECONDS)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(STOP_SECONDS)
