"""Loading an establishment's identity file (the dedupe CSV format) as source records."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from identity.referential import repository, service
from identity.referential.models import SourceRecord
from identity.referential.schemas import IdentityCreate, SourceRef
from identity.referential.traits import normalized_fields
from referentials.core.auth import Principal
from referentials.core.db import session_scope
from referentials.core.errors import AppError, ValidationFailed

REQUIRED = ("source_id", "birth_name", "first_names", "sex", "birth_date")
BATCH = 500


@dataclass
class ImportSummary:
    rows: int = 0
    created: int = 0
    attached: int = 0
    already_known: int = 0
    duplicates_queued: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValidationFailed(
                f"{path.name}: missing column(s) {', '.join(missing)} in the header (line 1)",
                fields={"columns": missing},
            )
        for row in reader:
            yield reader.line_num, row


def _body(row: dict[str, str], finess: str) -> IdentityCreate:
    return IdentityCreate(
        birth_name=row["birth_name"],
        first_names=row["first_names"].split(),
        sex=row["sex"],
        birth_date=row["birth_date"],
        birth_place_code=row.get("birth_place_code") or None,
        used_name=row.get("used_name") or None,
        used_first_name=row.get("used_first_name") or None,
        source=SourceRef(finess=finess, local_id=row["source_id"]),
    )


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
        session.add(
            SourceRecord(
                identity_id=twin.id, finess=data.source.finess, local_id=data.source.local_id
            )
        )
        session.flush()
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
    rows = _rows(path)
    while True:
        with session_scope(factory) as session:
            done = 0
            for line, row in rows:
                summary.rows += 1
                try:
                    with session.begin_nested():
                        _load_row(session, principal, _body(row, finess), summary)
                except (ValidationError, AppError) as exc:
                    summary.errors.append((line, _message(exc)))
                done += 1
                if done == BATCH:
                    break
        if progress:
            progress(summary.rows)
        if done < BATCH:
            return summary


def _message(exc: ValidationError | AppError) -> str:
    if isinstance(exc, AppError):
        return exc.message
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
