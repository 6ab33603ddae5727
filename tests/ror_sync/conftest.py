"""ROR test data: the rule fixture's FINESS (through the directory import) and ROR."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.settings import DirectorySettings, Settings
from referentials.directory import imports as directory_imports
from ror_sync import jobs
from tests.conftest import FIXTURES
from tests.ror_sync import rules_fixture as rf


@pytest.fixture()
def rules_loaded(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    """FINESS of the rule fixture imported by the directory, then its ROR synced."""
    directory_imports.run(
        engine,
        session_factory,
        source="finess",
        location=str(rf.FINESS_STRUCTURES),
        trigger="test",
        settings=DirectorySettings(),
        activities=rf.FINESS_ACTIVITIES,
    )
    jobs.run(session_factory, str(rf.FIXTURE), Settings(fixtures_dir=FIXTURES), trigger="test")
