"""The event feed's relay: cursors given to committed events, in order, by one short transaction.

Writers append events without a cursor (an outbox); the relay (referentials/core/cursor_relay.py)
numbers the committed ones, so the feed is ordered and gap-free while writers' transactions
overlap freely. Here: when it runs — shared after commit by the writers that committed
together, and every RELAY_SECONDS as a safety net.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from referentials.core.cursor_relay import CursorRelay

log = logging.getLogger("socle.feed")
# Any constant: serialises relays (only them, for the few milliseconds they last).
RELAY_LOCK = 7_311_002
# The safety net: a process relays at least this often (a writer killed after its commit).
RELAY_SECONDS = 1.0

_RELAY = CursorRelay("identity_events", RELAY_LOCK)


def relay_now(engine: Engine) -> int:
    """One relay in its own transaction."""
    return _RELAY.relay_now(engine)


class _Turns:
    """Relays after commit, shared: one relay stands for every writer that committed before it.

    Each writer takes a ticket after its commit. A relay that starts after a writer's ticket
    was taken numbers that writer's events (they were committed before it began), so while
    one relay runs, the writers that commit meanwhile wait for the next one, which serves
    them all: under many concurrent writers, one relay per group rather than one per write
    (on SQLite, each relay is a turn of the one write lock).
    """

    def __init__(self) -> None:
        self.ready = threading.Condition()
        self.taken = 0  # tickets given to writers
        self.served = 0  # every ticket up to this one has had its relay
        self.running = False

    def relay_after_commit(self, engine: Engine) -> None:
        with self.ready:
            self.taken += 1
            ticket = self.taken
            while self.served < ticket and self.running:
                self.ready.wait()
            if self.served >= ticket:
                return
            self.running, upto = True, self.taken
        done = False
        try:
            relay_now(engine)
            done = True
        finally:
            with self.ready:
                self.running = False
                if done:  # a failed relay serves no one: the waiters run one of their own
                    self.served = max(self.served, upto)
                self.ready.notify_all()


_turns: dict[int, _Turns] = {}
_turns_lock = threading.Lock()


def relay_after_commit(engine: Engine) -> None:
    """Relay, once the writer's transaction is committed, before the writer answers."""
    with _turns_lock:
        turns = _turns.setdefault(id(engine), _Turns())
    turns.relay_after_commit(engine)


class Relay:
    """The periodic relay of one process (started by the server, stopped at shutdown)."""

    def __init__(self, engine: Engine, every: float = RELAY_SECONDS) -> None:
        self.engine, self.every = engine, every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="feed-relay", daemon=True)

    def start(self) -> Relay:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                relay_now(self.engine)
            except Exception:  # the database may be away for a while: try again later
                log.warning("feed relay failed; retrying", exc_info=True)
