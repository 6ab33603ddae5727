"""The delivery worker: one fan-out thread, and one sending thread per subscription.

A slow or absent subscriber only ever occupies its own thread (and its own pool of sends), so
the others never wait for it. The worker runs once: as ``socle notify``, or inside ``socle
serve`` in the process the database elects (``ElectedNotifier``), never once per worker.
Nothing is held across a send: deliveries are picked in a short read, sent with no transaction
open, and their outcomes written in a short transaction; a worker killed in between sends
those deliveries again after restart (same idempotency key: at least once).
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from referentials.core.db import make_session_factory, session_scope
from referentials.core.leader import Election
from referentials.core.notify import outbox, registry
from referentials.core.notify import repository_queue as queue
from referentials.core.notify.fanout import CursorMoved, FanOut, fan_out
from referentials.core.notify.sender import Round, Sender
from referentials.core.settings import NotifySettings

log = logging.getLogger("socle.notify")
IDLE_SECONDS = 1.0


class NotifyWorker:
    """Background delivery until ``stop()``."""

    def __init__(self, engine: Engine, settings: NotifySettings) -> None:
        self.engine, self.settings = engine, settings
        self.factory = make_session_factory(engine)
        self.sender = Sender(self.factory, settings)
        self.stopped = threading.Event()
        self.runners: dict[int, tuple[threading.Thread, threading.Event]] = {}
        self.thread = threading.Thread(target=self._fan_out_loop, name="notify-fanout", daemon=True)

    def start(self) -> NotifyWorker:
        log.info("notification worker started")
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=15)
        for thread, wake in list(self.runners.values()):
            wake.set()
            thread.join(timeout=15)
        self.sender.close()
        for channel in registry.channels().values():
            channel.close()
        log.info("notification worker stopped")

    def fan_out_once(self) -> FanOut:
        """Relay the change outbox, then queue new events (one short transaction)."""
        outbox.relay_now(self.engine)
        try:
            with session_scope(self.factory) as session:
                return fan_out(session, limit=self.settings.batch_size)
        except CursorMoved:
            return FanOut(more=True)

    def _fan_out_loop(self) -> None:
        while not self.stopped.is_set():
            full = False
            try:
                done = self.fan_out_once()
                full = done.more  # a backlog (a replay, a burst): read on at once
                self._sync_runners(done.queued)
            except Exception:  # the database may be away: try again
                log.warning("notify fan-out failed; retrying", exc_info=True)
            if not full:
                self.stopped.wait(self.settings.poll_seconds)

    def _sync_runners(self, queued: dict[int, int]) -> None:
        with self.factory() as session:
            ids = set(queue.active_ids(session))
        for sub_id in ids - set(self.runners):
            wake = threading.Event()
            thread = threading.Thread(
                target=self._send_loop,
                args=(sub_id, wake),
                name=f"notify-sub-{sub_id}",
                daemon=True,
            )
            self.runners[sub_id] = (thread, wake)
            thread.start()
        for sub_id, (_, wake) in list(self.runners.items()):
            if sub_id not in ids or queued.get(sub_id):
                wake.set()
            if sub_id not in ids:
                del self.runners[sub_id]

    def _send_loop(self, sub_id: int, wake: threading.Event) -> None:
        while not self.stopped.is_set():
            try:
                done = self.sender.run(sub_id)
            except Exception:  # the database may be away: try again
                log.warning("notify round for subscription %s failed", sub_id, exc_info=True)
                done = Round(0, IDLE_SECONDS)
            if done is None:
                return
            if done.wait > 0:
                wake.wait(done.wait)
                wake.clear()


def drain(engine: Engine, settings: NotifySettings, *, timeout: float = 10.0) -> None:
    """Fan out and send, in this thread, until nothing is queued or due (or the timeout)."""
    worker = NotifyWorker(engine, settings)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            done = worker.fan_out_once()
            with worker.factory() as session:
                ids = queue.active_ids(session)
            sent = sum((r.sent if (r := worker.sender.run(i)) else 0) for i in ids)
            if not done.queued and not done.more and not sent:
                return
    finally:
        worker.sender.close()


class ElectedNotifier:
    """The embedded worker: runs in whichever process the database elects."""

    def __init__(self, engine: Engine, settings: NotifySettings) -> None:
        self.engine, self.settings = engine, settings
        self.worker: NotifyWorker | None = None
        self.election = Election(
            engine,
            "notify",
            on_elected=self._start,
            on_deposed=self._stop,
            lease_seconds=settings.leader_lease_seconds,
        )

    @property
    def leading(self) -> bool:
        return self.election.leading

    def start(self) -> ElectedNotifier:
        self.election.start()
        return self

    def shutdown(self) -> None:
        self.election.stop()
        self._stop()

    def _start(self) -> None:
        self.worker = NotifyWorker(self.engine, self.settings).start()

    def _stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
