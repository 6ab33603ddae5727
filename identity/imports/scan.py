"""The batch scan of the whole referential, in bulk: duplicates.scan()'s queue, by columns.

The active identities are streamed as columns of codes into their distinct values (never one
object per identity: a million of them held 3.7 GB), blocked and scored against each other by
the batch matcher exactly as the per-pair scan does, then the pairs are queued as
queue.enqueue() would queue them one by one: new pairs inserted in order (so with the same
ids), open pairs refreshed and stale refusals reopened with one executemany each. One
transaction: a scan is applied whole or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from identity.duplicates import service as duplicates
from identity.duplicates.matcher import load_model
from identity.duplicates.queue import OPEN, explanation_of
from identity.duplicates.service import ScanSummary
from identity.imports import repository as reads
from identity.imports.queue import PAIR_COLUMNS
from identity.referential.models import DuplicatePair
from matching.batch import dedupe_prepared
from matching.features import Factor, distinct_codes
from matching.prepared import IntArray, RecordColumns, prepare_columns
from matching.scoring import ScoredPair
from referentials.core.bulk_insert import insert_tuples
from referentials.core.db import utcnow

# New pairs go to the database this many at a time (in order: the ids are the same), so the
# rows of half a million pairs are never all held at once.
INSERT_BATCH = 50_000
_TRAITS = (
    "birth_name",
    "first_names",
    "used_name",
    "used_first_name",
    "sex",
    "birth_date",
    "birth_place_code",
    "ins",
)


@dataclass
class _Streamed:
    """Columns filled batch after batch: codes into distinct values shared by every batch."""

    ids: list[IntArray] = field(default_factory=list)
    codes: dict[str, list[IntArray]] = field(default_factory=lambda: {t: [] for t in _TRAITS})
    index: dict[str, dict[Hashable, int]] = field(default_factory=lambda: {t: {} for t in _TRAITS})
    history: list[tuple[str, ...]] = field(default_factory=list)

    def add(self, part: reads.MatchColumns) -> None:
        self.ids.append(np.array(part.ids, dtype=np.int64))
        for trait in _TRAITS:
            values = getattr(part, trait)
            self.codes[trait].append(distinct_codes(values, self.index[trait]))
        self.history.extend(part.ins_history)

    def factor(self, trait: str) -> Factor[Any]:
        codes = np.concatenate(self.codes[trait]) if self.ids else np.zeros(0, dtype=np.int64)
        return Factor(codes, list(self.index[trait]))


def _given(names: Factor[str]) -> Factor[tuple[str, ...]]:
    """First names as the records hold them (split on blanks), re-coded on the split forms."""
    index: dict[tuple[str, ...], int] = {}
    remap = distinct_codes([tuple(v.split()) for v in names.values], index)
    return Factor(remap[names.codes] if len(remap) else names.codes, list(index))


def _columns(session: Session) -> tuple[IntArray, RecordColumns]:
    """Ids (ascending) and the matcher's columns of every active identity."""
    streamed = _Streamed()
    for part in reads.active_match_columns(session):
        streamed.add(part)
    ids = np.concatenate(streamed.ids) if streamed.ids else np.zeros(0, dtype=np.int64)
    empty = Factor(np.zeros(len(ids), dtype=np.int64), [""])
    factors = {t: streamed.factor(t) for t in _TRAITS}
    history = streamed.history
    columns = RecordColumns(
        ids=[str(i) for i in ids.tolist()],
        birth_name=factors["birth_name"],
        first_names=_given(factors["first_names"]),
        used_name=factors["used_name"],
        used_first_name=factors["used_first_name"],
        sex=factors["sex"],
        birth_date=factors["birth_date"],
        birth_place_code=factors["birth_place_code"],
        ins=factors["ins"],
        address=empty,
        postcode=empty,
        city=empty,
        phone=empty,
        ins_history=history if any(history) else [],
    )
    return ids, columns


def _signature(cols: RecordColumns, left: int, right: int) -> str:
    """queue.signature() of two positions (left holds the smaller id)."""

    def value(factor: Factor[Any], i: int) -> Any:
        return factor.values[int(factor.codes[i])]

    parts = [
        "|".join(
            [
                value(cols.birth_name, i),
                " ".join(value(cols.first_names, i)),
                value(cols.sex, i),
                value(cols.birth_date, i),
                value(cols.birth_place_code, i),
            ]
        )
        for i in (left, right)
    ]
    return hashlib.sha256("#".join(parts).encode()).hexdigest()


def scan(session: Session, progress: Callable[[int, int], None] | None = None) -> ScanSummary:
    """Batch scan of every active identity; idempotent (known and refused pairs stay put)."""
    settings = duplicates.current()
    ids, cols = _columns(session)
    prep = prepare_columns(cols)
    arrays, _ = dedupe_prepared(prep, load_model(settings.model_path), settings.config, progress)
    names = prep.ids
    del prep  # the prepared features are not needed to queue the pairs: their memory goes
    summary = ScanSummary(identities=len(ids), candidate_pairs=len(arrays))
    known = reads.pairs_by_sides(session)
    new: list[tuple[Any, ...]] = []
    refresh: list[dict[str, Any]] = []
    queued = 0
    for lo in range(0, len(arrays), INSERT_BATCH):
        # The pairs a batch at a time, with their sides' establishments (in order: same ids).
        hi = min(lo + INSERT_BATCH, len(arrays))
        sides = np.unique(np.concatenate([arrays.left[lo:hi], arrays.right[lo:hi]]))
        establishments = reads.establishments_of(session, ids[sides].tolist())
        for i in range(lo, hi):
            # One pair object at a time, as arrays.to_pairs() builds them, in its order.
            scored = arrays.pair(names, i)
            # Positions follow the ids (read in id order): the smaller position, the smaller id.
            lo_pos, hi_pos = sorted((int(arrays.left[i]), int(arrays.right[i])))
            low, high = int(ids[lo_pos]), int(ids[hi_pos])
            sig = _signature(cols, lo_pos, hi_pos)
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
        queued, new = queued + len(new), []
    _apply(session, refresh)
    summary.queued = queued + len(refresh)
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
