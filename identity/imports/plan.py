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

from identity.imports import repository as reads
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


@dataclass
class ChunkPlan:
    rows: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    already_known: int = 0
    attaches: list[Attach] = field(default_factory=list)
    creates: list[Create] = field(default_factory=list)


def strict_of(fields: dict[str, Any]) -> reads.StrictTraits:
    return (
        fields["birth_name"],
        fields["first_names"],
        fields["sex"],
        fields["birth_date"],
        fields.get("birth_place_code"),
    )


def _parsed(
    lines: list[tuple[int, dict[str, str]]], finess: str, plan: ChunkPlan
) -> list[tuple[int, str, Any]]:
    out = []
    for line, row in lines:
        try:
            out.append((line, row["source_id"], body_of(row, finess)))
        except ValidationError as exc:
            plan.errors.append((line, message_of(exc)))
    return out


def plan_chunk(
    session: Session, lines: list[tuple[int, dict[str, str]]], finess: str, today: date
) -> ChunkPlan:
    """Decide every row of the chunk, in file order, against the stored referential."""
    plan = ChunkPlan(rows=len(lines))
    parsed = _parsed(lines, finess, plan)
    known = reads.known_local_ids(session, finess, sorted({p[1] for p in parsed}))
    normalized: list[tuple[int, str, dict[str, Any]]] = []
    for line, local_id, body in parsed:
        if local_id in known:
            plan.already_known += 1
            continue
        try:
            normalized.append((line, local_id, normalized_fields(body, today)))
        except AppError as exc:
            plan.errors.append((line, exc.message))
    stored = reads.oldest_twins(session, [strict_of(f) for _, _, f in normalized])
    created: dict[reads.StrictTraits, int] = {}
    for line, local_id, fields in normalized:
        if local_id in known:  # twice in the file: the second row finds the first one's
            plan.already_known += 1
            continue
        known.add(local_id)
        traits = strict_of(fields)
        if traits in stored:
            plan.attaches.append(Attach(local_id, identity_id=stored[traits]))
        elif traits in created:
            plan.attaches.append(Attach(local_id, new_index=created[traits]))
        else:
            created[traits] = len(plan.creates)
            plan.creates.append(Create(line, local_id, fields))
    plan.errors.sort()
    return plan
