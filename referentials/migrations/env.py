"""Alembic environment: the composition root that knows every context's tables."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import Engine, create_engine

import identity.hl7v2.models
import identity.referential.models  # noqa: F401
import referentials.core.audit
import referentials.core.auth
import referentials.core.oauth.models
import referentials.core.runs
import referentials.core.usage
import referentials.core.web
import referentials.directory.models
import referentials.psc.models  # noqa: F401
import ror_sync.models  # noqa: F401
from referentials.core.db import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations must not depend on our Python types: UTCDateTime is a timezone-aware DateTime.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    engine: Engine | None = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            render_item=render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
