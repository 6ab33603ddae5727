"""Running an import: lock, run record, download, parse, diff, apply, summary.

Used by the CLI, the scheduler and the manual-trigger route alike, so a run is recorded and
locked the same way whoever starts it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from referentials.core import runs
from referentials.core.errors import AppError
from referentials.core.settings import DirectorySettings, Settings
from referentials.directory import importers
from referentials.directory.download import download, is_url
from referentials.directory.errors import ImportAborted, ImportAlreadyRunning, UnknownSource
from referentials.directory.parsers.common import ParseReport
from referentials.directory.sources import sha256_of

log = logging.getLogger("socle.directory.imports")
SOURCES = ("rpps", "finess")
Progress = Callable[[ParseReport], None]


@dataclass(frozen=True)
class Ticket:
    """A started run: it holds the source's lock until ``execute`` ends."""

    source: str
    location: str
    run_id: int
    owner: str


def lock_name(source: str) -> str:
    return f"import:{source}"


def begin(
    factory: sessionmaker[Session],
    *,
    source: str,
    location: str,
    trigger: str,
    settings: DirectorySettings,
) -> Ticket:
    """Take the source's lock and record the run (409 when the source is already running)."""
    if source not in SOURCES:
        raise UnknownSource(
            f"unknown import source '{source}'; known: {', '.join(SOURCES)}",
            fields={"source": source},
        )
    owner = runs.new_owner()
    ttl = timedelta(seconds=settings.lock_ttl_seconds)
    if not runs.acquire_lock(factory, lock_name(source), owner, ttl=ttl):
        raise ImportAlreadyRunning(
            f"an import of '{source}' is already running", fields={"source": source}
        )
    run_id = runs.start_run(factory, source=source, location=location, owner=owner, trigger=trigger)
    return Ticket(source, location, run_id, owner)


def execute(
    engine: Engine,
    factory: sessionmaker[Session],
    ticket: Ticket,
    *,
    settings: DirectorySettings,
    progress: Progress | None = None,
    activities: Path | str | None = None,
) -> dict[str, Any]:
    """Run a begun import to its end, record its outcome, release the lock; the summary."""
    started = time.monotonic()
    beat = _heartbeat(factory, ticket, settings, progress)
    try:
        path, checksum = _fetch(ticket.location, settings)
        summary: dict[str, Any] = {
            "run_id": ticket.run_id,
            "source": ticket.source,
            "file": path.name,
            "checksum": checksum,
        }
        with factory() as session:
            previous = runs.last_success(session, ticket.source, before=ticket.run_id)
            summary["previous_seen"] = previous.finished_at if previous else None
        # The FINESS+ activities file: a path or a URL, fetched like the main file.
        extra = _fetch(str(activities), settings)[0] if activities else None
        importer = importers.rpps if ticket.source == "rpps" else importers.finess
        importer(engine, ticket.run_id, path, summary, settings, beat, started, extra)
        # The run record was written in the applying transaction; the caller's figure also
        # counts that transaction's commit (seconds, for a national first load).
        summary["seconds"] = round(time.monotonic() - started, 2)
        return summary
    except BaseException as exc:
        outcome = runs.ABORTED if isinstance(exc, ImportAborted) else runs.FAILED
        message = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
        with factory() as session:
            runs.finish_run(session, ticket.run_id, outcome=outcome, error=message)
            session.commit()
        raise
    finally:
        runs.release_lock(factory, lock_name(ticket.source), ticket.owner)


def _fetch(location: str, settings: DirectorySettings) -> tuple[Path, str]:
    if is_url(location):
        got = download(
            location,
            settings.download_dir,
            retries=settings.download_retries,
            backoff=settings.download_backoff_seconds,
            timeout=settings.download_timeout_seconds,
        )
        return got.path, got.sha256
    path = Path(location)
    return path, sha256_of(path) if path.is_file() else ""


def _heartbeat(
    factory: sessionmaker[Session],
    ticket: Ticket,
    settings: DirectorySettings,
    progress: Progress | None,
) -> Progress:
    """Progress callback that also keeps the lock alive during a long parse."""
    ttl = timedelta(seconds=settings.lock_ttl_seconds)
    last = [time.monotonic()]

    def beat(report: ParseReport) -> None:
        if progress is not None:
            progress(report)
        if time.monotonic() - last[0] > settings.lock_ttl_seconds / 4:
            last[0] = time.monotonic()
            runs.refresh_lock(factory, lock_name(ticket.source), ticket.owner, ttl=ttl)

    return beat


def run(
    engine: Engine,
    factory: sessionmaker[Session],
    *,
    source: str,
    location: str,
    trigger: str,
    settings: DirectorySettings,
    progress: Progress | None = None,
    activities: Path | str | None = None,
) -> dict[str, Any]:
    """Begin and execute an import in this thread."""
    ticket = begin(factory, source=source, location=location, trigger=trigger, settings=settings)
    return execute(
        engine, factory, ticket, settings=settings, progress=progress, activities=activities
    )


DEFAULT_FIXTURES = {
    "rpps": Path("directory/rpps/PS_LibreAcces_Personne_activite_202605040000.txt"),
    "finess": Path("directory/finess/finess-structures-journalier-20260504.json"),
}
DEFAULT_ACTIVITIES = Path("directory/finess/finess-activites-journalier-20260504.json")


def configured_location(settings: Settings, source: str) -> str:
    """The configured path or URL of a source; empty means the shipped sample extract."""
    configured = {
        "rpps": settings.scheduler.rpps_source,
        "finess": settings.scheduler.finess_source,
    }
    if source not in configured:
        raise UnknownSource(
            f"unknown import source '{source}'; known: {', '.join(SOURCES)}",
            fields={"source": source},
        )
    return configured[source] or str(settings.fixtures_dir / DEFAULT_FIXTURES[source])


def configured_activities(settings: Settings, source: str) -> str | None:
    """The FINESS+ activities file that goes with the configured FINESS source, if any.

    Never guessed: the configured one, or the shipped sample's when the sample is imported.
    """
    if source != "finess":
        return None
    scheduler = settings.scheduler
    if scheduler.finess_activities_source:
        return scheduler.finess_activities_source
    if scheduler.finess_source:
        return None
    return str(settings.fixtures_dir / DEFAULT_ACTIVITIES)


def run_in_background(
    engine: Engine,
    factory: sessionmaker[Session],
    ticket: Ticket,
    settings: DirectorySettings,
    activities: str | None = None,
) -> threading.Thread:
    """Execute a begun import in a daemon thread (its outcome lands in the run record)."""

    def work() -> None:
        try:
            execute(engine, factory, ticket, settings=settings, activities=activities)
        except Exception:
            log.exception("import run %s of %s failed", ticket.run_id, ticket.source)

    thread = threading.Thread(target=work, name=f"import-{ticket.source}", daemon=True)
    thread.start()
    return thread
