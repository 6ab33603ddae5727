"""Loading an establishment's identity file (the dedupe CSV format) as source records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from identity.imports.rows import body_of, message_of, read_rows
from identity.referential import local_ids, repository, service
from identity.referential.schemas import IdentityCreate
from identity.referential.traits import normalized_fields
from referentials.core.auth import Principal
from referentials.core.db import session_scope
from referentials.core.errors import AppError

BATCH = 500


@dataclass
class ImportSummary:
    rows: int = 0
    created: int = 0
    attached: int = 0
    already_known: int = 0
    duplicates_queued: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _load_row(
    session: Session, principal: Principal, data: IdentityCreate, summary: ImportSummary
) -> None:
    assert data.source is not None
    if repository.by_source(session, data.source.finess, data.source.local_id) is not None:
        summary.already_known += 1
        return
    fields = normalized_fields(data, date.today())
    # An active identity with exactly these strict traits: the local id joins it.
    twin = repository.same_strict_traits(session, fields)
    if twin is not None:
        local_ids.attach(
            session,
            principal,
            twin,
            finess=data.source.finess,
            local_id=data.source.local_id,
            reason="identity file import: same strict traits",
        )
        summary.attached += 1
        return
    outcome = service.create(session, principal, data=data, fields=fields)
    summary.created += 1
    summary.duplicates_queued += len(outcome.duplicates)


def import_file(
    factory: sessionmaker[Session],
    principal: Principal,
    path: Path,
    *,
    finess: str,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Create or attach each row's identity; commits every 500 rows, so a rerun resumes."""
    summary = ImportSummary()
    rows = read_rows(path)
    while True:
        with session_scope(factory) as session:
            done = 0
            for line, row in rows:
                summary.rows += 1
                try:
                    with session.begin_nested():
                        _load_row(session, principal, body_of(row, finess), summary)
                except (ValidationError, AppError) as exc:
                    summary.errors.append((line, message_of(exc)))
                done += 1
                if done == BATCH:
                    break
        if progress:
            progress(summary.rows)
        if done < BATCH:
            return summary
