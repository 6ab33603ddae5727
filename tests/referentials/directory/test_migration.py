"""The directory tables as migrated are exactly the models (no autogenerate diff)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from referentials.core.db import Base

OURS = ("dir_", "import_runs", "run_locks")


def _ours(diff: object) -> bool:
    text = repr(diff)
    return any(name in text for name in OURS)


def test_no_difference_between_models_and_migrations(engine: Engine) -> None:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diffs if _ours(d)] == []
