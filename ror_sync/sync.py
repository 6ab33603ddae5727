"""The ROR sync: read a source (files or the FHIR API), upsert, resolve, snapshot, record."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from referentials.core import runs
from referentials.core.db import session_scope, utcnow
from referentials.core.errors import Conflict
from referentials.core.settings import RorSettings
from referentials.directory import service as directory_service
from ror_sync import store
from ror_sync.client import RorFhirClient
from ror_sync.errors import RorFormatError
from ror_sync.fhir_parse import parse
from ror_sync.fhir_reader import Located, read_path
from ror_sync.fhir_types import ParsedLocation, ParsedOffer, ParsedOrganization, ParsedRole

log = logging.getLogger("socle.ror.sync")

SOURCE = "ror"
LOCK = "import:ror"
LOCK_TTL = timedelta(hours=2)
BATCH = 2000
MAX_ERRORS_KEPT = 50

Progress = Callable[[int], None]


@dataclass
class SyncSummary:
    """What one sync did; ``counts()`` is what the run record and ``--json`` carry."""

    source: str
    resources: int = 0
    ignored: int = 0
    rejected: int = 0
    organizations: store.Written = field(default_factory=store.Written)
    offers: store.Written = field(default_factory=store.Written)
    locations: store.Written = field(default_factory=store.Written)
    roles: store.Written = field(default_factory=store.Written)
    resolved: int = 0
    errors: list[str] = field(default_factory=list)
    run_id: int | None = None
    snapshot_id: int | None = None

    def counts(self) -> dict[str, Any]:
        return {
            "resources": self.resources,
            "ignored": self.ignored,
            "rejected": self.rejected,
            "organizations": vars(self.organizations),
            "offers": vars(self.offers),
            "locations": vars(self.locations),
            "practitioner_roles": vars(self.roles),
            "resolved": self.resolved,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "run_id": self.run_id,
            "snapshot_id": self.snapshot_id,
            **self.counts(),
            "errors": self.errors,
        }


class _Batch:
    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.organizations: list[ParsedOrganization] = []
        self.offers: list[ParsedOffer] = []
        self.locations: list[ParsedLocation] = []
        self.roles: list[ParsedRole] = []

    def __len__(self) -> int:
        return len(self.organizations) + len(self.offers) + len(self.locations) + len(self.roles)

    def flush(self, session: Session, summary: SyncSummary, now: datetime) -> None:
        store.upsert_organizations(session, self.organizations, now, summary.organizations)
        store.upsert_locations(session, self.locations, now, summary.locations)
        store.upsert_offers(session, self.offers, now, summary.offers)
        store.upsert_roles(session, self.roles, now, summary.roles)
        self.clear()


def import_resources(
    session: Session,
    items: Iterable[Located],
    summary: SyncSummary,
    *,
    progress: Progress | None = None,
) -> SyncSummary:
    """Upsert every resource; a bad resource is rejected (and named), the rest goes on."""
    now = utcnow()
    batch = _Batch()
    for item in items:
        summary.resources += 1
        try:
            record = parse(item)
        except RorFormatError as exc:
            summary.rejected += 1
            if len(summary.errors) < MAX_ERRORS_KEPT:
                summary.errors.append(exc.message)
            continue
        if isinstance(record, ParsedOrganization):
            batch.organizations.append(record)
        elif isinstance(record, ParsedOffer):
            batch.offers.append(record)
        elif isinstance(record, ParsedLocation):
            batch.locations.append(record)
        elif isinstance(record, ParsedRole):
            batch.roles.append(record)
        else:
            summary.ignored += 1
        if len(batch) >= BATCH:
            batch.flush(session, summary, now)
            if progress:
                progress(summary.resources)
    batch.flush(session, summary, now)
    summary.resolved = store.resolve_hierarchy(session)
    store.set_eg_positions(session, finess_positions(session))
    if progress:
        progress(summary.resources)
    return summary


def finess_positions(session: Session) -> dict[str, tuple[float, float]]:
    """FINESS coordinates of every structure the directory holds (open or not)."""
    return {
        f.finess: (f.latitude, f.longitude)
        for f in directory_service.structure_facts(session, active_only=False)
        if f.latitude is not None and f.longitude is not None
    }


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def last_success(session: Session, location: str) -> datetime | None:
    """Start of the last successful sync of this source: the next delta starts there."""
    found, _ = runs.list_runs(session, source=SOURCE, limit=200, offset=0)
    for run in found:
        if run.outcome == runs.SUCCEEDED and run.location == location:
            return run.started_at
    return None


def _items(session: Session, source: str, settings: RorSettings, full: bool) -> Iterable[Located]:
    if not is_url(source):
        return read_path(Path(source))
    since = None if full else last_success(session, source)
    client = RorFhirClient(
        source,
        token=settings.fhir_token,
        headers=settings.fhir_headers,
        timeout=settings.fhir_timeout_seconds,
        page_size=settings.fhir_page_size,
        region=settings.region,
    )

    def generate() -> Iterable[Located]:
        with client:
            yield from client.resources(since)

    return generate()


Snapshotter = Callable[[Session, int | None, date], int]


def run_sync(
    factory: sessionmaker[Session],
    source: str,
    *,
    settings: RorSettings,
    snapshot: Snapshotter,
    trigger: str = "cli",
    full: bool = False,
    progress: Progress | None = None,
) -> SyncSummary:
    """One recorded, locked sync of ``source`` (path, folder or FHIR base URL)."""
    owner = runs.new_owner()
    if not runs.acquire_lock(factory, LOCK, owner, ttl=LOCK_TTL):
        raise Conflict("a ROR sync is already running", code="run_locked")
    summary = SyncSummary(source=source)
    try:
        summary.run_id = runs.start_run(
            factory, source=SOURCE, location=source, owner=owner, trigger=trigger
        )
        with session_scope(factory) as session:
            import_resources(
                session, _items(session, source, settings, full), summary, progress=progress
            )
            summary.snapshot_id = snapshot(session, summary.run_id, utcnow().date())
            runs.finish_run(
                session,
                summary.run_id,
                outcome=runs.SUCCEEDED,
                counts=summary.counts(),
                warnings=summary.errors,
                warnings_count=summary.rejected,
                file_name=Path(source).name if not is_url(source) else None,
            )
    except BaseException as exc:
        if summary.run_id is not None:
            with session_scope(factory) as session:
                runs.finish_run(
                    session,
                    summary.run_id,
                    outcome=runs.FAILED,
                    counts=summary.counts(),
                    error=str(exc)[:2000],
                )
        raise
    finally:
        runs.release_lock(factory, LOCK, owner)
    log.info("ROR sync %s: %s", summary.run_id, summary.counts())
    return summary
