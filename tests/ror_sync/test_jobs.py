"""The ROR sync as a scheduled job and as the embedded default's sample load."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from referentials import scheduler
from referentials.core import runs
from referentials.core.db import session_scope
from referentials.core.settings import RorSettings, Settings
from ror_sync import jobs, repository
from ror_sync.models import RorOffer
from tests.conftest import FIXTURES


def _job_ids(engine: Engine, factory: sessionmaker[Session], settings: Settings) -> set[str]:
    background = BackgroundScheduler()
    scheduler.add_jobs(background, engine, factory, settings)
    return {job.id for job in background.get_jobs()}


def test_the_ror_job_is_scheduled_only_with_an_api(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    without = Settings(fixtures_dir=FIXTURES)
    with_api = Settings(
        fixtures_dir=FIXTURES, ror=RorSettings(fhir_base_url="https://api-fhir.example.invalid")
    )
    assert "import-ror" not in _job_ids(engine, session_factory, without)
    assert "import-ror" in _job_ids(engine, session_factory, with_api)


def test_the_sample_loads_once_into_an_empty_ror(session_factory: sessionmaker[Session]) -> None:
    settings = Settings(fixtures_dir=FIXTURES)
    jobs.load_sample(session_factory, settings)
    jobs.load_sample(session_factory, settings)
    with session_scope(session_factory) as session:
        assert repository.count(session, RorOffer) == 9


def test_a_scheduled_sync_that_fails_is_logged_not_raised(
    session_factory: sessionmaker[Session],
) -> None:
    settings = Settings(fixtures_dir=FIXTURES, ror=RorSettings(fhir_base_url="http://127.0.0.1:9"))
    jobs.run_scheduled(session_factory, settings)
    with session_scope(session_factory) as session:
        found, _ = runs.list_runs(session, source="ror", limit=1, offset=0)
        assert found[0].trigger == "schedule" and found[0].outcome == runs.FAILED
