"""Queue rows of the pairs a bulk chunk found, as the per-row check's enqueue() writes them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from identity.duplicates.queue import explanation_of
from identity.imports import repository as reads
from identity.imports.candidates import Found
from matching.scoring import build_pair

Strict = tuple[str, str, str, date, str]


def _signature(sides: list[tuple[int, Strict]]) -> str:
    """queue.signature() from plain traits: both sides' strict traits, in id order."""
    parts = ["|".join([t[0], t[1], t[2], t[3].isoformat(), t[4]]) for _, t in sorted(sides)]
    return hashlib.sha256("#".join(parts).encode()).hexdigest()


def _strict(position: int, found: Found, ids: list[int]) -> tuple[int, Strict]:
    if position < found.created:
        record = found.records[position]
        traits: Strict = (
            record.birth_name,
            " ".join(record.first_names),
            record.sex,
            date.fromisoformat(record.birth_date),
            record.birth_place_code,
        )
        return ids[position], traits
    i, stored = position - found.created, found.stored
    traits = (
        stored.birth_name[i],
        stored.first_names[i],
        stored.sex[i],
        date.fromisoformat(stored.birth_date[i]),
        stored.birth_place_code[i],
    )
    return stored.ids[i], traits


PAIR_COLUMNS = (
    "left_id", "right_id", "score", "band", "explanation", "status", "origin", "establishments",
    "signature",
)  # fmt: skip
# Serialised where the rows are built (the helper process): 82,000 pairs' json.dumps took a
# second of a 1M load's main process.
JSON_TEXT = ("explanation",)


def pair_rows(
    session: Session, found: Found, ids: list[int], finess: str, helper: Executor | None = None
) -> Callable[[], list[tuple[Any, ...]]]:
    """DuplicatePair rows (origin "realtime", PAIR_COLUMNS) of the kept pairs, in queue order,
    as a getter: with a helper process they are built there while this one writes the rest.
    The explanation is its JSON text already (insert it with ``json_text=JSON_TEXT``).

    The establishments are read here first: a created row's only local id is this file's,
    every chunk row is of the same FINESS, so the chunk's own local ids change nothing.
    """
    arrays = found.arrays
    stored_ids = [
        found.stored.ids[int(r) - found.created] for r in arrays.right if r >= found.created
    ]
    known = reads.establishments_of(session, stored_ids)
    if helper is None or not len(arrays):
        rows = _rows(found, ids, finess, known)
        return lambda: rows
    future = helper.submit(_rows, _sent(found), ids, finess, known)
    return future.result


def _sent(found: Found) -> Found:
    """``found`` as the helper needs it: without the chunk's blocking keys (its stored
    identities are already only those its pairs name, candidates.named)."""
    return replace(found, keys=[])


def _rows(
    found: Found, ids: list[int], finess: str, known: dict[int, set[str]]
) -> list[tuple[Any, ...]]:
    arrays = found.arrays
    out: list[tuple[Any, ...]] = []
    for i in range(len(arrays)):
        left = _strict(int(arrays.left[i]), found, ids)
        right = _strict(int(arrays.right[i]), found, ids)
        scored = build_pair(
            str(left[0]), str(right[0]), arrays.levels[i], arrays.weights[i],
            float(arrays.scores[i]), int(arrays.bands[i]), int(arrays.flags[i]), arrays.prior,
        )  # fmt: skip
        low, high = sorted((left[0], right[0]))
        establishments = " ".join(sorted(known.get(right[0], set()) | {finess}))
        explanation = json.dumps(explanation_of(scored))  # as the column's type stores it
        signature = _signature([left, right])
        status = ("pending", "realtime", establishments, signature)
        out.append((low, high, scored.score, scored.band, explanation, *status))
    return out
