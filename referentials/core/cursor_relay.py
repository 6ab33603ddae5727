"""The relay of an outbox table: cursors given to committed rows, in order, in one statement.

Writers append rows without a cursor and never wait for each other. After commit, a relay
gives every committed row that has none the next cursors, in id order, in one short
transaction; relays of one table are serialised (an advisory lock on PostgreSQL, the single
writer on SQLite), so a transaction that assigns cursors commits before the next one starts. A
reader by cursor therefore never sees cursor n+1 before cursor n: ordered and gap-free, while
writers' transactions overlap freely. A row whose writer is still in flight is invisible to the
relay and gets a later cursor once committed.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text


class CursorRelay:
    """Numbers the committed rows of ``table`` (columns ``id`` and ``feed_cursor``)."""

    def __init__(self, table: str, lock_key: int) -> None:
        self.lock_key = lock_key
        # One statement, so SQLite takes its write lock first and PostgreSQL reads one
        # snapshot, taken after the relay lock: every row committed before it is numbered
        # after the previous relay's.
        self._assign = text(
            f"""
            UPDATE {table} SET feed_cursor = pending.base + pending.rank
            FROM (
                SELECT id,
                       ROW_NUMBER() OVER (ORDER BY id) AS rank,
                       (SELECT COALESCE(MAX(feed_cursor), 0) FROM {table}) AS base
                FROM {table} WHERE feed_cursor IS NULL
            ) AS pending
            WHERE {table}.id = pending.id
            """
        )

    def relay(self, conn: Connection) -> int:
        """Give the committed rows without a cursor their cursors; how many were given."""
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": self.lock_key})
        return int(conn.execute(self._assign).rowcount or 0)

    def relay_now(self, engine: Engine) -> int:
        """One relay in its own transaction."""
        with engine.begin() as conn:
            return self.relay(conn)
