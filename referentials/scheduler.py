"""APScheduler wiring of the scheduled imports (a composition root: it knows the contexts).

In the embedded default the jobs run in a background scheduler inside ``socle serve``, in the
one worker that the database elects (``referentials/core/leader.py``); in production
``socle scheduler`` runs them in a process of its own (which stands for the same election).
Each run also takes the source's database lock, so two processes never import one source at once.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from identity.hl7v2 import senders as hl7_senders
from referentials import notify_wiring
from referentials.core import audit, key_expiry
from referentials.core.db import session_scope
from referentials.core.errors import AppError
from referentials.core.leader import Election
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


def check_keys(factory: sessionmaker[Session], settings: Settings) -> int:
    """The daily check of the API keys that have ended or end soon; how many were warned of."""
    notify_wiring.install(settings)  # the event sources judge which subscriptions fall silent
    within = timedelta(days=settings.api_keys.expiry_warning_days)
    with session_scope(factory) as session:
        senders = hl7_senders.by_key(session, settings.hl7)
        return len(key_expiry.warn(session, within=within, senders=senders))


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
    # Once when elected (a restart shows at once the keys that ended meanwhile), then daily.
    cron = settings.api_keys.expiry_check_cron
    zone = settings.scheduler.timezone
    scheduler.add_job(
        check_keys,
        CronTrigger.from_crontab(cron, timezone=zone)
        if cron.strip()
        else DateTrigger(timezone=zone),
        args=(factory, settings),
        id="api-key-expiry",
        next_run_time=datetime.now(UTC),
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


class ElectedScheduler:
    """The scheduler of the one process the database elects: never once per worker or instance."""

    def __init__(self, engine: Engine, factory: sessionmaker[Session], settings: Settings) -> None:
        self.engine, self.factory, self.settings = engine, factory, settings
        self.running: BackgroundScheduler | None = None
        self.election = Election(
            engine,
            "scheduler",
            on_elected=self._run_jobs,
            on_deposed=self._stop_jobs,
            lease_seconds=settings.scheduler.leader_lease_seconds,
        )

    @property
    def leading(self) -> bool:
        return self.running is not None

    def start(self) -> ElectedScheduler:
        self.election.start()
        return self

    def shutdown(self, wait: bool = False) -> None:
        self.election.stop()
        self._stop_jobs(wait)

    def _run_jobs(self) -> None:
        scheduler = BackgroundScheduler(timezone=self.settings.scheduler.timezone)
        add_jobs(scheduler, self.engine, self.factory, self.settings)
        scheduler.start()
        self.running = scheduler
        log.info("scheduler elected; jobs %s", [job.id for job in scheduler.get_jobs()])

    def _stop_jobs(self, wait: bool = False) -> None:
        if self.running is not None:
            self.running.shutdown(wait=wait)
            self.running = None


def start_background(
    engine: Engine, factory: sessionmaker[Session], settings: Settings
) -> ElectedScheduler | None:
    """Stand for election as the embedded scheduler (None when turned off by settings)."""
    if not settings.scheduler.enabled:
        return None
    return ElectedScheduler(engine, factory, settings).start()


def run_blocking(engine: Engine, factory: sessionmaker[Session], settings: Settings) -> None:
    """Run the scheduled jobs from this process until interrupted (`socle scheduler`).

    It stands for the same election as the embedded schedulers, so a `socle scheduler` beside
    servers whose scheduler is left on still never runs a job twice.
    """
    elected = ElectedScheduler(engine, factory, settings).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        elected.shutdown()
