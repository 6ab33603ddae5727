"""The audit trail is append-only in the database itself: UPDATE and DELETE are refused by
triggers (SQLite and PostgreSQL alike); the retention purge is the only, audited, deleter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.audit import AuditEntry, AuditPurgeWindow, purge_access
from referentials.core.db import session_scope, utcnow


def _seed(factory: sessionmaker[Session]) -> int:
    old = utcnow() - timedelta(days=400)
    with session_scope(factory) as sess:
        entry = AuditEntry(at=old, actor="t", entity_type="identity", entity_id="7", action="read")
        sess.add(entry)
        sess.add(
            AuditEntry(at=old, actor="t", entity_type="identity", entity_id="7", action="merge")
        )
        sess.flush()
        return entry.id


def _count(factory: sessionmaker[Session]) -> int:
    with session_scope(factory) as sess:
        return len(list(sess.scalars(select(AuditEntry.id))))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET actor = 'someone else'",
        "UPDATE audit_entries SET reason = 'rewritten' WHERE action = 'merge'",
        "DELETE FROM audit_entries",
        "DELETE FROM audit_entries WHERE action = 'read'",
    ],
)
def test_raw_sql_cannot_rewrite_the_trail(
    session_factory: sessionmaker[Session], engine: Engine, statement: str
) -> None:
    _seed(session_factory)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    assert _count(session_factory) == 2
    with session_scope(session_factory) as sess:
        assert {e.actor for e in sess.scalars(select(AuditEntry))} == {"t"}


def test_the_orm_cannot_rewrite_the_trail_either(session_factory: sessionmaker[Session]) -> None:
    entry_id = _seed(session_factory)
    with pytest.raises(DBAPIError, match="append-only"), session_scope(session_factory) as sess:
        sess.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(entity_id="8"))
    with pytest.raises(DBAPIError, match="append-only"), session_scope(session_factory) as sess:
        sess.delete(sess.get(AuditEntry, entry_id))
    with pytest.raises(DBAPIError, match="append-only"), session_scope(session_factory) as sess:
        sess.execute(delete(AuditEntry))
    assert _count(session_factory) == 2


def test_truncate_is_refused_on_postgresql(
    session_factory: sessionmaker[Session], engine: Engine
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    _seed(session_factory)
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_entries"))
    assert _count(session_factory) == 2


def test_the_purge_deletes_and_records_itself(session_factory: sessionmaker[Session]) -> None:
    _seed(session_factory)
    with session_scope(session_factory) as sess:
        assert purge_access(sess, older_than_days=365) == 1
    with session_scope(session_factory) as sess:
        entries = list(sess.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        # The window closes with the purge's transaction: nothing else may delete afterwards.
        assert sess.scalar(select(AuditPurgeWindow.id)) is None
    assert [e.action for e in entries] == ["merge", "purge"]
    purge = entries[-1]
    assert purge.actor == "system" and purge.entity_type == "audit"
    assert purge.after is not None and purge.after["deleted"] == 1
    with pytest.raises(DBAPIError, match="append-only"), session_scope(session_factory) as sess:
        sess.execute(delete(AuditEntry).where(AuditEntry.action == "purge"))
