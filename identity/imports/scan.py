"""The batch scan of the whole referential, in bulk: duplicates.scan()'s queue, by columns.

The active identities are streamed as plain rows (no ORM object), blocked and scored against
each other by the batch matcher exactly as the per-pair scan does, then the pairs are queued
as queue.enqueue() would queue them one by one: new pairs inserted in one statement (in the
same order, so with the same ids), open pairs refreshed and stale refusals reopened with one
executemany each. One transaction: a scan is applied whole or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from identity.duplicates import service as duplicates
from identity.duplicates.matcher import load_model, row_record
from identity.duplicates.queue import OPEN, explanation_of
from identity.duplicates.service import ScanSummary
from identity.imports import repository as reads
from identity.imports.queue import PAIR_COLUMNS
from identity.referential.models import DuplicatePair
from matching.batch import dedupe
from matching.records import IdentityRecord
from matching.scoring import ScoredPair
from referentials.core.bulk_insert import insert_tuples
from referentials.core.db import utcnow


def _signature(left: IdentityRecord, right: IdentityRecord) -> str:
    """queue.signature() from the records (left has the smaller id)."""
    parts = [
        "|".join([r.birth_name, " ".join(r.first_names), r.sex, r.birth_date, r.birth_place_code])
        for r in (left, right)
    ]
    return hashlib.sha256("#".join(parts).encode()).hexdigest()


def _records(session: Session) -> list[IdentityRecord]:
    return [row_record(str(row.id), row) for row in reads.active_match_rows(session)]


def scan(session: Session, progress: Callable[[int, int], None] | None = None) -> ScanSummary:
    """Batch scan of every active identity; idempotent (known and refused pairs stay put)."""
    settings = duplicates.current()
    records = _records(session)
    pairs = dedupe(records, load_model(settings.model_path), settings.config, progress=progress)
    position = {int(r.id): i for i, r in enumerate(records)}
    summary = ScanSummary(identities=len(records), candidate_pairs=len(pairs))
    known = reads.pairs_by_sides(session)
    sides = {int(s) for p in pairs for s in (p.left_id, p.right_id)}
    establishments = reads.establishments_of(session, sides)
    new: list[tuple[Any, ...]] = []
    refresh: list[dict[str, Any]] = []
    for scored in pairs:
        low, high = sorted((int(scored.left_id), int(scored.right_id)))
        sig = _signature(records[position[low]], records[position[high]])
        existing = known.get((low, high))
        if existing is None:
            places = establishments.get(low, set()) | establishments.get(high, set())
            row = (low, high, scored.score, scored.band, explanation_of(scored), "pending")
            new.append((*row, "scan", " ".join(sorted(places)), sig))
        elif existing[1] in OPEN or (existing[1] == "not_duplicate" and existing[2] != sig):
            refresh.append(_refreshed(existing, scored, sig))
        else:
            summary.already_known += 1
    insert_tuples(session, DuplicatePair, PAIR_COLUMNS, new)
    _apply(session, refresh)
    summary.queued = len(new) + len(refresh)
    return summary


def _refreshed(existing: tuple[int, str, str], scored: ScoredPair, sig: str) -> dict[str, Any]:
    values = {
        "pair_id": existing[0],
        "v_score": scored.score,
        "v_band": scored.band,
        "v_explanation": explanation_of(scored),
        "v_signature": sig,
        "v_status": existing[1],
        "v_updated_at": None,
    }
    if existing[1] not in OPEN:
        # A strict trait changed on either side: the old refusal no longer stands.
        values.update(v_status="pending", v_updated_at=utcnow())
    return values


def _apply(session: Session, refresh: list[dict[str, Any]]) -> None:
    """Refreshed scores (and reopened refusals) in one executemany per kind."""
    columns = ["score", "band", "explanation", "signature"]
    for reopened in (False, True):
        rows = [r for r in refresh if (r["v_updated_at"] is not None) is reopened]
        if not rows:
            continue
        names = [*columns, "status", "updated_at"] if reopened else columns
        stmt = (
            update(DuplicatePair)
            .where(DuplicatePair.id == bindparam("pair_id"))
            .values({c: bindparam(f"v_{c}") for c in names})
        )
        session.connection().execute(stmt, rows)
