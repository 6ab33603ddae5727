"""APScheduler wiring of the scheduled imports (a composition root: it knows the contexts).

In the embedded default the jobs run in a background scheduler inside ``socle serve``; in
production ``socle scheduler`` runs them in a blocking scheduler of its own. Either way each
run takes the source's database lock, so two processes never import one source at once.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from referentials.core import audit
from referentials.core.db import session_scope
from referentials.core.errors import AppError
from referentials.core.settings import Settings
from referentials.directory import imports
from ror_sync import jobs as ror_jobs

log = logging.getLogger("socle.scheduler")


def run_source(
    engine: Engine, factory: sessionmaker[Session], settings: Settings, source: str
) -> None:
    """One scheduled run; a run already in progress elsewhere is skipped, not queued."""
    location = imports.configured_location(settings, source)
    try:
        summary = imports.run(
            engine,
            factory,
            source=source,
            location=location,
            trigger="schedule",
            settings=settings.directory,
            activities=imports.configured_activities(settings, source),
        )
    except AppError as exc:
        log.warning("scheduled import of %s not done: %s", source, exc.message)
        return
    except Exception:
        log.exception("scheduled import of %s failed", source)
        return
    log.info(
        "scheduled import of %s: run %s, +%s ~%s -%s",
        source,
        summary["run_id"],
        summary["added"],
        summary["updated"],
        summary["removed"],
    )


def purge_audit(factory: sessionmaker[Session], settings: Settings) -> int:
    """The daily purge of access records past their retention; the count deleted."""
    with session_scope(factory) as session:
        deleted = audit.purge_access(session, older_than_days=settings.audit.access_retention_days)
    log.info("audit purge: %s access record(s) past retention deleted", deleted)
    return deleted


def crons(settings: Settings) -> dict[str, str]:
    """Cron expression of each source that has one."""
    configured = {"rpps": settings.scheduler.rpps_cron, "finess": settings.scheduler.finess_cron}
    return {source: cron for source, cron in configured.items() if cron.strip()}


def add_jobs(
    scheduler: BaseScheduler, engine: Engine, factory: sessionmaker[Session], settings: Settings
) -> None:
    for source, cron in crons(settings).items():
        scheduler.add_job(
            run_source,
            CronTrigger.from_crontab(cron, timezone=settings.scheduler.timezone),
            args=(engine, factory, settings, source),
            id=f"import-{source}",
            # One at a time per process; the database lock covers the other processes.
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
    if settings.audit.access_retention_days > 0 and settings.audit.purge_cron.strip():
        scheduler.add_job(
            purge_audit,
            CronTrigger.from_crontab(
                settings.audit.purge_cron, timezone=settings.scheduler.timezone
            ),
            args=(factory, settings),
            id="audit-purge",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
    # The ROR sync runs only against a configured API (the sample is loaded once at start).
    if settings.ror.fhir_base_url and settings.ror.sync_cron.strip():
        scheduler.add_job(
            ror_jobs.run_scheduled,
            CronTrigger.from_crontab(settings.ror.sync_cron, timezone=settings.scheduler.timezone),
            args=(factory, settings),
            id="import-ror",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )


def start_background(
    engine: Engine, factory: sessionmaker[Session], settings: Settings
) -> BackgroundScheduler | None:
    """Start the embedded scheduler (None when turned off by settings)."""
    if not settings.scheduler.enabled:
        return None
    scheduler = BackgroundScheduler(timezone=settings.scheduler.timezone)
    add_jobs(scheduler, engine, factory, settings)
    scheduler.start()
    log.info("scheduler started with jobs %s", [job.id for job in scheduler.get_jobs()])
    return scheduler


def run_blocking(engine: Engine, factory: sessionmaker[Session], settings: Settings) -> None:
    """Run the scheduled imports in this process until interrupted (`socle scheduler`)."""
    scheduler = BlockingScheduler(timezone=settings.scheduler.timezone)
    add_jobs(scheduler, engine, factory, settings)
    log.info("scheduler running jobs %s", [job.id for job in scheduler.get_jobs()])
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
