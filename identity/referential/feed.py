"""The event feed's relay: cursors given to committed events, in order, by one short transaction.

Writers append events without a cursor (an outbox) and never wait for each other. After commit,
the relay gives every committed event that has none the next cursors, in id order, in one short
transaction; relays are serialised (an advisory lock on PostgreSQL, the single writer on
SQLite), so a transaction that assigns cursors commits before the next one starts. A reader
therefore never sees cursor n+1 before cursor n: the feed is ordered and gap-free, while
writers' transactions overlap freely. An event whose writer is still in flight is invisible to
the relay and gets a later cursor once committed.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("socle.feed")
# Any constant: serialises relays (only them, for the few milliseconds they last).
RELAY_LOCK = 7_311_002
# The safety net: a process relays at least this often (a writer killed after its commit).
RELAY_SECONDS = 1.0

# One statement, so SQLite takes its write lock first and PostgreSQL reads one snapshot, taken
# after the relay lock: every event committed before it is numbered after the previous relay's.
_ASSIGN = text(
    """
    UPDATE identity_events SET feed_cursor = pending.base + pending.rank
    FROM (
        SELECT id,
               ROW_NUMBER() OVER (ORDER BY id) AS rank,
               (SELECT COALESCE(MAX(feed_cursor), 0) FROM identity_events) AS base
        FROM identity_events WHERE feed_cursor IS NULL
    ) AS pending
    WHERE identity_events.id = pending.id
    """
)


def relay(conn: Connection) -> int:
    """Give the committed events without a cursor their cursors; how many were given."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RELAY_LOCK})
    return int(conn.execute(_ASSIGN).rowcount or 0)


def relay_now(engine: Engine) -> int:
    """One relay in its own transaction."""
    with engine.begin() as conn:
        return relay(conn)


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
