"""What the per-row load would do with each row of a chunk, decided for the whole chunk at once.

The per-row load, row after row: a row that does not parse is rejected; a local id already
attached is skipped; a row whose strict traits equal those of an active identity (the oldest
one, stored or created earlier in the file) is attached to it; any other row creates an identity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from identity.duplicates.matcher import keys_of
from identity.imports import repository as reads
from identity.imports.candidates import record_of
from identity.imports.rows import body_of, message_of
from identity.referential.traits import normalized_fields
from referentials.core.errors import AppError


@dataclass
class Attach:
    """A local id joining an identity: a stored one (``identity_id``) or one this chunk creates
    (``new_index``, its position in ``ChunkPlan.creates``)."""

    local_id: str
    identity_id: int | None = None
    new_index: int | None = None


@dataclass
class Create:
    line: int
    local_id: str
    fields: dict[str, Any]
    keys: list[str]


@dataclass
class ChunkPlan:
    rows: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    already_known: int = 0
    attaches: list[Attach] = field(default_factory=list)
    creates: list[Create] = field(default_factory=list)


@dataclass
class Parsed:
    """A row that parses: its stored traits and blocking keys, or why its traits are refused
    (reported only if the row is not skipped first, as the per-row load reports it)."""

    line: int
    local_id: str
    fields: dict[str, Any] | None
    keys: list[str]
    error: str = ""


@dataclass
class ParsedChunk:
    rows: int
    errors: list[tuple[int, str]]  # rows that do not parse
    parsed: list[Parsed]


def strict_of(fields: dict[str, Any]) -> reads.StrictTraits:
    return (
        fields["birth_name"],
        fields["first_names"],
        fields["sex"],
        fields["birth_date"],
        fields.get("birth_place_code"),
    )


def parse_chunk(lines: list[tuple[int, dict[str, str]]], finess: str, today: date) -> ParsedChunk:
    """Everything about a chunk's rows that needs no database: parsed, normalised, keyed
    (the load does it for the next chunk while the database works on this one)."""
    out = ParsedChunk(rows=len(lines), errors=[], parsed=[])
    for line, row in lines:
        try:
            body = body_of(row, finess)
        except ValidationError as exc:
            out.errors.append((line, message_of(exc)))
            continue
        try:
            fields = normalized_fields(body, today)
        except AppError as exc:
            out.parsed.append(Parsed(line, row["source_id"], None, [], exc.message))
            continue
        keys = keys_of(record_of("", fields))
        out.parsed.append(Parsed(line, row["source_id"], fields, keys))
    return out


def plan_chunk(session: Session, chunk: ParsedChunk, finess: str) -> ChunkPlan:
    """Decide every row of the chunk, in file order, against the stored referential."""
    plan = ChunkPlan(rows=chunk.rows, errors=list(chunk.errors))
    known = reads.known_local_ids(session, finess, sorted({p.local_id for p in chunk.parsed}))
    normalized: list[Parsed] = []
    for row in chunk.parsed:
        if row.local_id in known:
            plan.already_known += 1
        elif row.fields is None:
            plan.errors.append((row.line, row.error))
        else:
            normalized.append(row)
    stored = reads.oldest_twins(session, [strict_of(r.fields) for r in normalized if r.fields])
    created: dict[reads.StrictTraits, int] = {}
    for row in normalized:
        assert row.fields is not None
        if row.local_id in known:  # twice in the file: the second row finds the first one's
            plan.already_known += 1
            continue
        known.add(row.local_id)
        traits = strict_of(row.fields)
        if traits in stored:
            plan.attaches.append(Attach(row.local_id, identity_id=stored[traits]))
        elif traits in created:
            plan.attaches.append(Attach(row.local_id, new_index=created[traits]))
        else:
            created[traits] = len(plan.creates)
            plan.creates.append(Create(row.line, row.local_id, row.fields, row.keys))
    plan.errors.sort()
    return plan
