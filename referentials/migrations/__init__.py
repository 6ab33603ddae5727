"""Alembic migrations; ``upgrade(engine)`` brings a database to the newest schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from referentials.core.db_check import reachable_engine
from referentials.core.settings import Settings

HERE = Path(__file__).parent


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic configuration pointing at this folder (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if engine is not None:
        cfg.attributes["engine"] = engine
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine) -> None:
    """Apply every migration of every context (each context is an Alembic branch)."""
    command.upgrade(alembic_config(engine), "heads")


def open_database(settings: Settings) -> Engine:
    """The configured database, brought to the newest schema (what every command starts with).

    Raises DatabaseUnavailable when it cannot be reached."""
    engine = reachable_engine(settings)
    upgrade(engine)
    return engine
