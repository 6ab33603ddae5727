"""Scheduled imports: jobs from settings, runs recorded, a busy source skipped."""

from __future__ import annotations

import time
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from referentials import scheduler
from referentials.core import runs
from referentials.core.runs import ImportRun
from referentials.core.settings import SchedulerSettings, Settings
from referentials.directory.models import Structure
from tests.referentials.directory.conftest import FINESS_ACTIVITIES, FINESS_JSON, RPPS


def settings_with(db_settings: Settings, **scheduling: object) -> Settings:
    return db_settings.model_copy(update={"scheduler": SchedulerSettings(**scheduling)})


def test_jobs_follow_the_cron_settings(engine: Engine, db_settings: Settings) -> None:
    settings = settings_with(db_settings, rpps_cron="15 2 * * *", finess_cron="")
    jobs = BackgroundScheduler(timezone="Europe/Paris")
    scheduler.add_jobs(jobs, engine, sessionmaker(bind=engine), settings)
    imports = [job for job in jobs.get_jobs() if job.id.startswith("import-")]
    assert [job.id for job in imports] == ["import-rpps"]
    trigger = str(imports[0].trigger)
    assert "hour='2'" in trigger and "minute='15'" in trigger


def test_scheduled_run_is_recorded(
    engine: Engine, session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    settings = settings_with(
        db_settings,
        rpps_source=str(RPPS),
        finess_source=str(FINESS_JSON),
        finess_activities_source=str(FINESS_ACTIVITIES),
    )
    scheduler.run_source(engine, session_factory, settings, "rpps")
    scheduler.run_source(engine, session_factory, settings, "finess")
    with session_factory() as session:
        done = session.scalars(select(ImportRun).order_by(ImportRun.id)).all()
        # The configured activities file went with the configured structures file.
        ch = session.get(Structure, "690999016")
        assert ch is not None and ch.sanitary_authorisations == "01,04,50"
    assert [(r.source, r.trigger, r.outcome) for r in done] == [
        ("rpps", "schedule", "succeeded"),
        ("finess", "schedule", "succeeded"),
    ]


def test_busy_source_is_skipped_not_queued(
    engine: Engine, session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    owner = runs.new_owner()
    assert runs.acquire_lock(session_factory, "import:rpps", owner, ttl=timedelta(minutes=5))
    scheduler.run_source(engine, session_factory, settings_with(db_settings), "rpps")
    with session_factory() as session:
        assert session.scalars(select(ImportRun)).all() == []


def test_embedded_scheduler_can_be_turned_off(
    engine: Engine, session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    off = settings_with(db_settings, enabled=False)
    assert scheduler.start_background(engine, session_factory, off) is None
    on = scheduler.start_background(engine, session_factory, settings_with(db_settings))
    assert on is not None
    # Alone, it is elected at its first try.
    deadline = time.monotonic() + 10
    while on.running is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert on.running is not None and on.running.running
    assert {"import-rpps", "import-finess"} <= {job.id for job in on.running.get_jobs()}
    on.shutdown(wait=False)
    assert on.running is None
