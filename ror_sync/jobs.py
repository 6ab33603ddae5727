"""The ROR sync as a job: what the CLI, the scheduler and the start-up load call."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from referentials.core.errors import AppError
from referentials.core.settings import Settings
from ror_sync import service
from ror_sync.sync import Progress, SyncSummary, run_sync

log = logging.getLogger("socle.ror.jobs")


def run(
    factory: sessionmaker[Session],
    source: str,
    settings: Settings,
    *,
    trigger: str = "cli",
    full: bool = False,
    progress: Progress | None = None,
) -> SyncSummary:
    """One recorded sync of a file, folder or FHIR base URL, with its completeness snapshot."""
    return run_sync(
        factory,
        source,
        settings=settings.ror,
        snapshot=service.take_snapshot,
        trigger=trigger,
        full=full,
        progress=progress,
    )


def run_scheduled(factory: sessionmaker[Session], settings: Settings) -> None:
    """The scheduled delta sync from the configured API; a sync already running is skipped."""
    try:
        summary = run(factory, settings.ror.fhir_base_url, settings, trigger="schedule")
    except AppError as exc:
        log.warning("scheduled ROR sync not done: %s", exc.message)
        return
    except Exception:
        log.exception("scheduled ROR sync failed")
        return
    log.info("scheduled ROR sync: run %s, %s", summary.run_id, summary.counts())


def load_sample(factory: sessionmaker[Session], settings: Settings) -> None:
    """Load the sample ROR of fixtures/ror/sample into an empty ROR (embedded default)."""
    with factory() as session:
        if not service.is_empty(session):
            return
    location = settings.fixtures_dir / "ror" / "sample"
    if not location.exists():
        log.warning("no ROR sample at %s", location)
        return
    try:
        summary = run(factory, str(location), settings, trigger="bootstrap")
        log.info("imported the ROR sample: %s", summary.counts())
    except AppError as exc:
        log.warning("could not import the ROR sample: %s", exc.message)
