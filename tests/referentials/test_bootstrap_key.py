"""The bootstrap key: created at start-up, and a revocation survives restarts (with a warning)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from referentials import bootstrap
from referentials.core.auth import ApiKey, hash_key, revoke_api_key
from referentials.core.db import make_engine, make_session_factory, session_scope
from referentials.core.settings import Settings

SECRET = "sk_bootstrap_revoked_later"


def test_a_revoked_bootstrap_key_stays_revoked_across_restarts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'boot.db'}",
        bootstrap_api_key=SECRET,
        load_demo_data=False,
    )
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    bootstrap.prepare_database(engine, factory, settings)
    with session_scope(factory) as session:
        key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(SECRET)))
        assert key is not None and not key.revoked
        revoke_api_key(session, key.id)
    with caplog.at_level(logging.WARNING, logger="socle.bootstrap"):
        bootstrap.prepare_database(engine, factory, settings)
    with session_scope(factory) as session:
        keys = list(session.scalars(select(ApiKey)))
        assert [(k.client_name, k.revoked) for k in keys] == [("bootstrap", True)]
    assert any("stays revoked" in r.getMessage() for r in caplog.records)
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    engine.dispose()
