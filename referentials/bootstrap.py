"""Start-up work: migrations, the bootstrap key, demo data on an empty database."""

from __future__ import annotations

import csv
import logging
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from identity.referential import repository as identity_repository
from identity.referential import service as identity_service
from identity.referential.schemas import IdentityCreate, SourceRef
from referentials.core.auth import SYSTEM, ensure_bootstrap_key
from referentials.core.db import session_scope
from referentials.core.errors import AppError
from referentials.core.settings import Settings
from referentials.directory import imports as directory_imports
from referentials.directory import service as directory_service
from referentials.migrations import upgrade
from ror_sync import jobs as ror_jobs

log = logging.getLogger("socle.bootstrap")


def prepare_database(engine: Engine, factory: sessionmaker[Session], settings: Settings) -> None:
    """Apply migrations, ensure the bootstrap key, load demo data if the base is empty."""
    upgrade(engine)
    with session_scope(factory) as session:
        if settings.bootstrap_api_key:
            key = ensure_bootstrap_key(session, settings.bootstrap_api_key)
            if key.revoked:
                log.warning(
                    "the bootstrap key (id %s) is revoked and stays revoked: "
                    "remove SOCLE_BOOTSTRAP_API_KEY",
                    key.id,
                )
        if settings.load_demo_data and identity_repository.count(session) == 0:
            loaded = load_demo_identities(
                session, settings.fixtures_dir / "demo" / "identities.csv"
            )
            log.info("loaded %d demo identities", loaded)
    if settings.load_demo_data and settings.directory.load_fixtures:
        load_directory_samples(engine, factory, settings)
        # After the FINESS sample, so the first completeness snapshot has its denominator.
        ror_jobs.load_sample(factory, settings)


def load_directory_samples(
    engine: Engine, factory: sessionmaker[Session], settings: Settings
) -> None:
    """Import the sample RPPS+ and FINESS extracts of fixtures/ into an empty directory."""
    with session_scope(factory) as session:
        if not directory_service.is_empty(session):
            return
    for source in directory_imports.SOURCES:
        location = directory_imports.configured_location(settings, source)
        try:
            summary = directory_imports.run(
                engine,
                factory,
                source=source,
                location=location,
                trigger="bootstrap",
                settings=settings.directory,
                activities=directory_imports.configured_activities(settings, source),
            )
            log.info("imported the %s sample: %s entries", source, summary["added"])
        except AppError as exc:
            log.warning("could not import the %s sample: %s", source, exc.message)


def load_demo_identities(session: Session, path: Path) -> int:
    """Create the demo identities of a CSV in the dedupe format (with a `finess` column)."""
    if not path.exists():
        log.warning("no demo identities at %s", path)
        return 0
    count = 0
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            data = IdentityCreate(
                birth_name=row["birth_name"],
                first_names=row["first_names"].split(" "),
                sex=row["sex"],
                birth_date=date.fromisoformat(row["birth_date"]),
                birth_place_code=row["birth_place_code"] or None,
                used_name=row["used_name"] or None,
                used_first_name=row["used_first_name"] or None,
                source=SourceRef(finess=row["finess"], local_id=row["source_id"]),
            )
            identity_service.create(session, SYSTEM, data=data)
            count += 1
    return count
