"""Alembic owns the schema: after every migration, the models and the database agree."""

from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from referentials.core.db import Base


def _import_all_models() -> None:
    for package in ("referentials", "identity", "ror_sync"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if info.name.endswith(".models") or info.name.startswith("referentials.core."):
                importlib.import_module(info.name)


def test_migrations_create_exactly_the_models(engine: Engine) -> None:
    _import_all_models()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
