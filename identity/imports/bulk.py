"""The bulk load of an establishment's identity file: the per-row load's outcome, by chunks.

Each chunk of rows is decided as a whole (plan.py), its created rows are checked for
duplicates as the real-time check would check them one by one (candidates.py), then
identities, local ids, blocking keys, audit entries, events and queue pairs are written with
one statement per table. Each chunk is committed: a rerun skips the local ids already loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import service as duplicates
from identity.duplicates.matcher import load_model
from identity.imports import candidates
from identity.imports import repository as reads
from identity.imports.plan import ChunkPlan, plan_chunk
from identity.imports.queue import pair_rows
from identity.imports.rows import read_rows
from identity.imports.service import ImportSummary
from identity.referential.history import ENTITY, emit_many, snapshot
from identity.referential.local_ids import ACTION as ATTACHED
from identity.referential.local_ids import EVENT as ATTACHED_EVENT
from identity.referential.models import DuplicatePair, Identity, MatchKey, SourceRecord
from referentials.core import audit
from referentials.core.auth import Principal
from referentials.core.db import session_scope

# Rows decided and written per transaction: bounds memory and the work a crash loses.
CHUNK = 10_000


def _chunks(path: Path, size: int) -> Iterator[list[tuple[int, dict[str, str]]]]:
    rows = read_rows(path)
    while chunk := list(islice(rows, size)):
        yield chunk


def import_file(
    factory: sessionmaker[Session],
    principal: Principal,
    path: Path,
    *,
    finess: str,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK,
) -> ImportSummary:
    """Create or attach each row's identity and queue its likely duplicates, chunk by chunk."""
    summary = ImportSummary()
    settings = duplicates.current()
    model = load_model(settings.model_path)
    for lines in _chunks(path, chunk_size):
        with session_scope(factory) as session:
            plan = plan_chunk(session, lines, finess, date.today())
            found = candidates.find(
                session, [c.fields for c in plan.creates], model, settings.config
            )
            _write(session, principal, finess, plan, found, summary)
        if progress:
            progress(summary.rows)
    summary.errors.sort()
    return summary


def _identity_row(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "PROV",
        "attributes": "",
        "birth_date_estimated": False,
        "active": True,
        "version": 1,
        **fields,
    }


def _write(
    session: Session,
    principal: Principal,
    finess: str,
    plan: ChunkPlan,
    found: candidates.Found,
    summary: ImportSummary,
) -> None:
    rows = [_identity_row(c.fields) for c in plan.creates]
    ids = reads.insert_identities(session, rows)
    sources = [
        {"identity_id": i, "finess": finess, "local_id": c.local_id}
        for i, c in zip(ids, plan.creates, strict=True)
    ]
    attached: list[tuple[int, str]] = []
    for a in plan.attaches:
        target = a.identity_id if a.new_index is None else ids[a.new_index]
        sources.append({"identity_id": target, "finess": finess, "local_id": a.local_id})
        assert target is not None  # an attach names a stored identity or a created row
        attached.append((target, a.local_id))
    reads.insert_rows(session, SourceRecord, sources)
    reads.insert_rows(
        session,
        MatchKey,
        [
            {"identity_id": i, "key": k}
            for i, keys in zip(ids, found.keys, strict=True)
            for k in keys
        ],
    )
    audit.record_many(
        session,
        principal,
        entity_type=ENTITY,
        action="create",
        entries=[(i, snapshot(Identity(id=i, **row))) for i, row in zip(ids, rows, strict=True)],
    )
    emit_many(session, [("identity.created", i, {"status": "PROV"}) for i in ids])
    # A local id joining an identity with the same strict traits: audited, with its event, as
    # the shared attach does on the per-row path.
    audit.record_many(
        session,
        principal,
        entity_type=ENTITY,
        action=ATTACHED,
        entries=[(i, {"finess": finess, "local_id": lid}) for i, lid in attached],
        reason="identity file import: same strict traits",
    )
    emit_many(session, [(ATTACHED_EVENT, i, {"finess": finess}) for i, _ in attached])
    pairs = pair_rows(session, found, ids, finess)
    reads.insert_rows(session, DuplicatePair, pairs)
    summary.rows += plan.rows
    summary.created += len(ids)
    summary.attached += len(plan.attaches)
    summary.already_known += plan.already_known
    summary.duplicates_queued += len(pairs)
    summary.errors.extend(plan.errors)
