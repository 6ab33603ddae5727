"""The real-time duplicate check of every created row, replayed for a whole chunk at once.

Created one after the other, row j's check sees, per blocking key, the stored identities and
the rows created before it (and itself: its keys are written first); a key held by more than
PER_KEY_CAP of them is skipped, and when every key is, the first over-common block is used.
Stored identities are older (smaller ids) than created ones, so each block is the stored
slice followed by the chunk's own rows. The pairs found are then scored in one vectorised pass.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from itertools import chain
from typing import Any

import numpy as np
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from identity.duplicates.matcher import PER_KEY_CAP
from identity.imports import repository as reads
from identity.imports.encoded import EncodedStore
from identity.referential import repository
from matching.batch import ScoredArrays
from matching.config import MatchConfig
from matching.features import Factor, factorise
from matching.model import MatchModel
from matching.prepared import IntArray, RecordColumns, prepare_columns
from matching.realtime import score_index_pairs
from matching.records import IdentityRecord

# The real-time check keeps the best 20 candidates of each new identity.
LIMIT = 20
# Share of the distinct surnames the helper process encodes: the columns of hundreds of
# thousands of stored rows keep this process busy meanwhile, where the helper has only them.
HELPER_SHARE = 0.9
# Threads that score a chunk's pairs (realtime.score_index_pairs).
SCORING_THREADS = 2
# Sort position of a created row: after every stored id, in creation order.
NEW = 1 << 48


@dataclass
class Found:
    """Kept pairs (review band or above, best LIMIT per created row) and what they refer to.

    Positions below ``created`` are the chunk's created rows (``records``); position
    ``created + i`` is the stored identity ``stored.ids[i]``, ``stored`` holding only the
    stored identities the pairs name (a chunk scores hundreds of thousands, pairs a few
    thousand: small enough to pickle to the helper process).
    """

    arrays: ScoredArrays
    records: list[IdentityRecord]
    keys: list[list[str]]
    created: int
    stored: reads.MatchColumns


def record_of(position: str, fields: dict[str, Any]) -> IdentityRecord:
    place = fields.get("birth_place_code")
    return IdentityRecord(
        id=position,
        birth_name=fields["birth_name"],
        first_names=tuple(fields["first_names"].split(" ")),
        used_name=fields.get("used_name") or "",
        used_first_name=fields.get("used_first_name") or "",
        sex=fields["sex"],
        birth_date=fields["birth_date"].isoformat(),
        birth_place_code=place or "",
    )


def _candidates(keys: list[list[str]], stored: dict[str, list[int]]) -> list[list[int]]:
    """Per created row, its candidates: stored ids (>= 0) and earlier created rows (-1 - j)."""
    own: dict[str, list[int]] = defaultdict(list)
    out: list[list[int]] = []
    for j, row_keys in enumerate(keys):
        ids: set[int] = set()
        common: list[list[int]] = []
        for key in row_keys:
            own[key].append(-1 - j)
            block = stored.get(key, [])
            size = len(block) + len(own[key])
            full = (block + own[key])[: PER_KEY_CAP + 1]
            if size > PER_KEY_CAP:
                common.append(full)
            else:
                ids.update(full)
        if not ids and common:
            ids = set(common[0])
        ids.discard(-1 - j)
        out.append(sorted(ids))
    return out


@dataclass
class Checked:
    """What the check of a chunk's created rows read: every read comes before the scoring."""

    records: list[IdentityRecord]
    keys: list[list[str]]
    config: MatchConfig
    per_row: list[list[int]]
    wanted: list[int]  # the stored candidates, ascending
    new: reads.MatchColumns  # those no earlier chunk encoded


@dataclass
class Scored:
    """The best pairs of each created row, the stored identities at positions ``created``
    onwards being ``stored_ids``."""

    arrays: ScoredArrays
    stored_ids: list[int]


def read(
    session: Session,
    created: list[dict[str, Any]],
    model: MatchModel,
    config: MatchConfig,
    keys: list[list[str]],
    store: EncodedStore,
    beside: Connection | None = None,
) -> Checked:
    """Everything the real-time check would read for each created row (``keys``: its
    blocking keys); ``store``: the load's stored candidates encoded by its earlier chunks;
    ``beside``: a second connection that reads half of the blocks (reads.key_blocks)."""
    if not config.referential_size:
        # The prior of the real-time check: the referential's size at the chunk's start (a
        # per-row load adds one per creation, which moves a large referential's prior by
        # nothing measurable), never below the model's reference size. Counted for each
        # chunk, never the real-time check's cached size: that one is refreshed by the clock,
        # so a slower run would score its later chunks with another prior (another queue).
        size = max(repository.count(session), model.reference_size)
        config = replace(config, referential_size=size)
    records = [record_of(str(j), f) for j, f in enumerate(created)]
    store.forget_changed(session)
    stored_blocks = store.key_blocks(
        session, sorted({k for ks in keys for k in ks}), PER_KEY_CAP + 1, beside
    )
    per_row = _candidates(keys, stored_blocks)
    wanted = sorted({c for cs in per_row for c in cs if c >= 0})
    # Only the candidates no earlier chunk encoded are read (the inactive ones return no row).
    new = reads.match_columns(session, store.missing(wanted))
    return Checked(records, keys, config, per_row, wanted, new)


def score(
    checked: Checked, model: MatchModel, helper: Executor | None, store: EncodedStore
) -> Scored:
    """The pairs of ``read``'s candidates, scored, best LIMIT per created row; reads nothing
    (the load writes meanwhile on PostgreSQL: bulk.py). ``helper``: a process that builds the
    surname features meanwhile."""
    records, created = checked.records, len(checked.records)
    cols = _columns(records, checked.new)
    encoded = prepare_columns(
        cols, store.interner, helper=helper, cached=True, helper_share=HELPER_SHARE
    )
    store.add(checked.new, encoded, created)
    # A stored id that is no longer active has no row: the real-time check drops it too.
    stored_ids = [i for i in checked.wanted if i in store.rows]
    prep = store.prepared(encoded, cols, created, stored_ids)
    pairs = _index_pairs(checked.per_row, stored_ids, created)
    arrays = score_index_pairs(prep, *pairs, model, checked.config, threads=SCORING_THREADS)
    return Scored(_best(arrays, stored_ids, created), stored_ids)


def _index_pairs(
    per_row: list[list[int]], stored_ids: list[int], created: int
) -> tuple[IntArray, IntArray]:
    """(left, right) positions of every candidate pair, row after row (created rows first,
    then ``stored_ids``). A stored id that is no longer active has no row: the real-time
    check drops it too."""
    lengths = np.fromiter(map(len, per_row), dtype=np.int64, count=len(per_row))
    flat = np.fromiter(chain.from_iterable(per_row), dtype=np.int64, count=int(lengths.sum()))
    left = np.repeat(np.arange(len(per_row), dtype=np.int64), lengths)
    ids = np.array(stored_ids or [-1], dtype=np.int64)
    at = np.minimum(np.searchsorted(ids, flat), len(ids) - 1)
    own = flat < 0
    keep = own | (ids[at] == flat)
    right = np.where(own, -1 - flat, created + at)
    return left[keep], right[keep]


def named(session: Session, checked: Checked, scored: Scored) -> Found:
    """The Found of the kept pairs, with the traits of the stored identities they name only
    (read again: a few thousand a chunk, where the pairs were scored against hundreds of
    thousands). One deactivated meanwhile has no row: its pairs are dropped, as in ``score``."""
    arrays, stored_ids, records = scored.arrays, scored.stored_ids, checked.records
    created = len(records)
    named = np.unique(arrays.right[arrays.right >= created])
    stored = reads.match_columns(session, [stored_ids[int(r) - created] for r in named])
    if len(stored) != len(named):
        still = np.array(stored.ids, dtype=np.int64)
        ids = np.array(stored_ids, dtype=np.int64)
        keep = arrays.right < created
        keep |= np.isin(ids[np.maximum(arrays.right - created, 0)], still)
        arrays = _subset(arrays, np.flatnonzero(keep))
        named = np.unique(arrays.right[arrays.right >= created])
    right = arrays.right.copy()
    is_stored = right >= created
    right[is_stored] = created + np.searchsorted(named, right[is_stored])
    return Found(replace(arrays, right=right), records, checked.keys, created, stored)


def _columns(records: list[IdentityRecord], stored: reads.MatchColumns) -> RecordColumns:
    """The created records then the stored identities, as the matcher's columns (stored rows
    never become record objects: a chunk may bring hundreds of thousands of them)."""
    created = RecordColumns.from_records(records)
    n = len(records) + len(stored)

    def column(name: str, values: list[Any]) -> Factor[Any]:
        return factorise([getattr(r, name) for r in records] + values)

    empty = factorise([""] * n)
    history = [r.ins_history for r in records] + stored.ins_history
    return replace(
        created,
        ids=[str(i) for i in range(n)],
        birth_name=column("birth_name", stored.birth_name),
        first_names=column("first_names", [tuple(f.split()) for f in stored.first_names]),
        used_name=column("used_name", stored.used_name),
        used_first_name=column("used_first_name", stored.used_first_name),
        sex=column("sex", stored.sex),
        birth_date=column("birth_date", stored.birth_date),
        birth_place_code=column("birth_place_code", stored.birth_place_code),
        ins=column("ins", stored.ins),
        address=empty,
        postcode=empty,
        city=empty,
        phone=empty,
        ins_history=history if any(history) else [],
    )


def _best(arrays: ScoredArrays, ids: list[int], created: int) -> ScoredArrays:
    """Per created row, its LIMIT best pairs by (score desc, id asc), rows in creation order."""
    if not len(arrays):
        return arrays
    stored_ids = np.array(ids or [0], dtype=np.int64)
    right = arrays.right
    order_key = np.where(right < created, NEW + right, stored_ids[np.maximum(right - created, 0)])
    order = np.lexsort((order_key, -arrays.scores, arrays.left))
    left_sorted = arrays.left[order]
    starts = np.searchsorted(left_sorted, left_sorted, side="left")
    return _subset(arrays, order[(np.arange(len(order)) - starts) < LIMIT])


def _subset(arrays: ScoredArrays, keep: IntArray) -> ScoredArrays:
    """The pairs at positions ``keep``, in this order."""
    names = ("left", "right", "scores", "bands", "levels", "weights", "flags")
    left, right, scores, bands, levels, weights, flags = (getattr(arrays, n)[keep] for n in names)
    return ScoredArrays(left, right, scores, bands, levels, weights, flags, arrays.prior)
