"""Alembic migrations; ``upgrade(engine)`` brings a database to the newest schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

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
