"""Reads do not write on the request path: usage counted in memory, access rows group-committed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.audit import AuditEntry
from referentials.core.auth import ApiKey
from referentials.core.usage import ApiUsage, flush_all
from tests.conftest import Api
from tests.reliability.world import new_identity


@contextmanager
def _usage_table_locked(engine: Engine) -> Iterator[None]:
    """Another transaction holding what a per-request usage write would need."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # SQLite's single write lock
        else:
            conn.execute(text("LOCK TABLE api_usage IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()


def test_reads_are_answered_while_the_usage_table_is_locked_and_counted_after(
    api: Api, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    flush_all()
    with _usage_table_locked(engine):
        for _ in range(5):
            # The event feed records no access: only the usage count would write.
            response = api.get("/api/v1/events", key="identity:read", timeout=3)
            assert response.status_code == 200, response.text
    flush_all()
    with session_factory() as session:
        key_id = session.scalar(
            select(ApiKey.id).where(ApiKey.client_name == "client-identity:read")
        )
        calls = session.scalar(select(func.sum(ApiUsage.calls)).where(ApiUsage.key_id == key_id))
    assert calls == 5


def test_every_answered_read_has_its_access_row_already_stored(
    api: Api, session_factory: sessionmaker[Session]
) -> None:
    ident = new_identity(api)["id"]
    for n in range(1, 6):
        assert api.get(f"/api/v1/identities/{ident}", key="reader").status_code == 200
        with session_factory() as session:
            stored = session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "read", AuditEntry.entity_id == str(ident))
            )
        assert stored == n
