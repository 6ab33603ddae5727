"""Reading an establishment's identity file (the dedupe CSV format): lines, bodies, messages."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from identity.referential.schemas import IdentityCreate, SourceRef
from referentials.core.errors import AppError, ValidationFailed

REQUIRED = ("source_id", "birth_name", "first_names", "sex", "birth_date")


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of each data line; a header without a required column is refused."""
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


def body_of(row: dict[str, str], finess: str) -> IdentityCreate:
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


def message_of(exc: ValidationError | AppError) -> str:
    if isinstance(exc, AppError):
        return exc.message
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
