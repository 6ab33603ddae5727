"""The connection ceiling of a served process follows SOCLE_DATABASE_MAX_CONNECTIONS."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import Engine, exc, text

from referentials.app import create_app
from referentials.core.db import make_engine
from referentials.core.settings import Settings
from tests.conftest import PG_URL


def _url(tmp_path: Path) -> str:
    return PG_URL or f"sqlite:///{tmp_path / 'pool.db'}"


def _open_at_once(engine: Engine, attempts: int) -> int:
    """How many connections the pool hands out at once (a wait past its timeout stops it)."""
    with ExitStack() as held:
        for opened in range(attempts):
            try:
                connection = held.enter_context(engine.connect())
            except exc.TimeoutError:
                return opened
            connection.execute(text("SELECT 1"))
    return attempts


def test_the_pool_opens_at_most_max_connections(tmp_path: Path) -> None:
    engine = make_engine(_url(tmp_path), max_connections=3, pool_timeout=0.2)
    try:
        assert _open_at_once(engine, 6) == 3
    finally:
        engine.dispose()
    default = make_engine(_url(tmp_path), pool_timeout=0.2)
    try:
        assert _open_at_once(default, 12) == 12  # 40 by default
    finally:
        default.dispose()


@pytest.mark.parametrize("ceiling", [2, 5])
def test_the_setting_reaches_the_served_engine(tmp_path: Path, ceiling: int) -> None:
    settings = Settings(database_url=_url(tmp_path), database_max_connections=ceiling)
    engine = create_app(settings).state.engine
    try:
        assert engine.pool.size() + engine.pool._max_overflow == ceiling  # type: ignore[attr-defined]
    finally:
        engine.dispose()
