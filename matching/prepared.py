"""Columnar, pre-normalised view of a list of records, built once and shared by every comparison.

Strings are interned to integers so that most agreement tests are numpy equality checks; only the
fuzzy levels look at the strings themselves. Each distinct value of a column is normalised once
(features.py) and its codes are spread to the records by indexing.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

import numpy as np
import numpy.typing as npt

from matching.factored import Factored, spread
from matching.features import (
    Factor,
    distinct_codes,
    given_features,
    given_table,
    surname_features,
)
from matching.records import IdentityRecord
from matching.runtime import gc_paused
from matching.surname_codes import initials, prefixes, surname_factors, surname_table_columns
from matching.traits import (
    ADDRESS_PREFIX,
    HISTORY_WIDTH,
    IntArray,
    Interner,
    ObjArray,
    RecordColumns,
    address_prefix,
    free_text,
    own_codes,
    own_columns,
    place_department,
    split_date,
    trait_columns,
)

GIVEN_WIDTH = 4  # given-name forms kept per record; later ones add little evidence
# Share of the distinct surnames encoded by the helper process, which then checks the INS and
# codes the phones while this one encodes the given names and the other traits, then interns
# the surnames (measured: all of them to the helper, and both end about together).
HELPER_SHARE = 1.0
# Re-exported for the single-record callers and the modules that read the columns.
__all__ = [
    "ADDRESS_PREFIX",
    "GIVEN_WIDTH",
    "HISTORY_WIDTH",
    "IntArray",
    "Interner",
    "ObjArray",
    "Prepared",
    "RecordColumns",
    "given_features",
    "place_department",
    "prepare",
    "prepare_columns",
    "split_date",
    "surname_features",
]


@dataclass(slots=True)
class Prepared:
    """Feature columns of n records (row i is records[i])."""

    ids: list[str]
    strings: dict[str, ObjArray]
    codes: dict[str, IntArray]
    interner: Interner

    @property
    def size(self) -> int:
        """Number of records."""
        return len(self.ids)


def _slots(tuples: Sequence[tuple[str, ...]], width: int, intern: Interner) -> list[IntArray]:
    """Interned i-th item of each tuple for i < width, -1 where the tuple is shorter (equals
    nothing). Slot 0 of every tuple is interned first, then slot 1, and so on."""
    lengths = np.fromiter(map(len, tuples), dtype=np.int64, count=len(tuples))
    out = []
    for i in range(width):
        # Only the tuples long enough are read (in C: compress, itemgetter): a padding "" would
        # take id 0, already given, so skipping it interns the same strings in the same order.
        longer = lengths > i
        column = np.full(len(tuples), -1, dtype=np.int64)
        column[longer] = intern.many(map(itemgetter(i), compress(tuples, longer.tolist())))
        out.append(column)
    return out


def _surname_columns(
    table: dict[str, IntArray], cores: ObjArray, birth: IntArray, used: IntArray
) -> tuple[dict[str, IntArray], ObjArray]:
    """The surname columns of each row from those of each distinct name (``table``)."""
    out = {name: column[birth] for name, column in table.items()}
    out.update(used=table["bn"][used], used_core=table["bn_core_id"][used])
    out["used_fonem"] = table["bn_fonem"][used]
    return out, cores[birth]


def _given_table(
    values: Sequence[tuple[str, ...]], intern: Interner, cached: bool
) -> tuple[dict[str, IntArray], ObjArray]:
    """The given-name columns of each of ``values`` (one row each) and its first given name."""
    rows = given_table(values, cached) or [(("", "", (), ()), "")]
    firsts = [features[0] for features, _ in rows]
    wholes = [features[2] for features, _ in rows]
    parts = [features[3] for features, _ in rows]
    table = {
        "first_id": intern.many(firsts),
        "first_phonex": intern.many(features[1] for features, _ in rows),
        **{f"whole{i}": ids for i, ids in enumerate(_slots(wholes, GIVEN_WIDTH, intern))},
        **{f"gpart{i}": ids for i, ids in enumerate(_slots(parts, GIVEN_WIDTH, intern))},
        "first_fonem": intern.many(code for _, code in rows),
        "first_initial": initials(firsts),
        "first_prefix": intern.many(prefixes(firsts)),
    }
    return table, np.array(firsts, dtype=object)


K = TypeVar("K", str, tuple[str, ...])
# Column kinds: codes, codes kept as int32 (half the memory), strings.
A = TypeVar("A", IntArray, "npt.NDArray[np.int32]", ObjArray)


@dataclass(slots=True)
class _Memo(Generic[K]):
    """The columns of every value (a given-name list, a surname) encoded with one interner: its
    ids stand for the same strings in every batch, so each value is encoded and interned once
    however many batches bring it (a bulk load's chunks bring the same names again and again)."""

    rows: dict[K, int] = field(default_factory=dict)
    codes: dict[str, IntArray] = field(default_factory=dict)
    strings: dict[str, ObjArray] = field(default_factory=dict)

    def missing(self, values: Sequence[K]) -> list[K]:
        return [v for v in values if v not in self.rows]

    def keep(
        self, values: list[K], codes: dict[str, IntArray], strings: dict[str, ObjArray]
    ) -> None:
        """Keep the columns of ``values``, not kept yet (one row each, in this order)."""
        start = len(self.rows)
        self.rows.update(zip(values, range(start, start + len(values)), strict=True))
        grow(self.codes, codes)
        grow(self.strings, strings)

    def columns(
        self, values: Sequence[K], at: IntArray | None = None
    ) -> tuple[dict[str, IntArray], dict[str, ObjArray]]:
        """The kept columns of each of ``values`` (all kept), or of ``values[at]``."""
        rows = np.fromiter(map(self.rows.__getitem__, values), dtype=np.int64, count=len(values))
        if at is not None:
            rows = rows[at]
        codes = {name: column[rows] for name, column in self.codes.items()}
        return codes, {name: column[rows] for name, column in self.strings.items()}


def grow(kept: dict[str, A], new: dict[str, A]) -> None:
    """Each column of ``new`` appended to its kept one (``kept`` takes new columns as they are)."""
    for name, column in new.items():
        old = kept.get(name)
        kept[name] = column if old is None else np.concatenate([old, column])


# The FONEM codes' rank is among one encoding's surnames only: not kept, ranked again.
RANK = "bn_fonem_rank"
# Kept as long as the interner they belong to (a bulk load's, for the whole load).
_GIVEN_MEMOS: WeakKeyDictionary[Interner, _Memo[tuple[str, ...]]] = WeakKeyDictionary()
_SURNAME_MEMOS: WeakKeyDictionary[Interner, _Memo[str]] = WeakKeyDictionary()


def _given_columns(
    factor: Factor[tuple[str, ...]], intern: Interner, cached: bool = False
) -> tuple[dict[str, IntArray], ObjArray]:
    """The given-name columns of each row; ``cached``: through the interner's memo."""
    if not cached or not factor.values:
        table, firsts = _given_table(factor.values, intern, cached)
        codes = factor.codes
        return {k: v[codes] for k, v in table.items()}, firsts[codes]
    memo = _GIVEN_MEMOS.setdefault(intern, _Memo())
    missing = memo.missing(factor.values)
    if missing:
        table, firsts = _given_table(missing, intern, cached=True)
        memo.keep(missing, table, {"first": firsts})
    kept, strings = memo.columns(factor.values, factor.codes)
    return kept, strings["first"]


def _surname_table(
    memo: _Memo[str], names: list[str], todo: list[str], parts: list[Factored], intern: Interner
) -> tuple[dict[str, IntArray], ObjArray]:
    """surname_table_columns() of ``names`` through ``memo``, ``parts`` encoding ``todo``
    (those of ``names`` it did not keep)."""
    if todo:
        table, cores = surname_table_columns(parts, intern)
        fonems = spread(parts, "bn_fonem", lambda v: np.array(v, dtype=object))
        kept = {name: column for name, column in table.items() if name != RANK}
        memo.keep(todo, kept, {"core": cores, "fonem": fonems})
    codes, strings = memo.columns(names)
    codes[RANK] = np.unique(strings["fonem"], return_inverse=True)[1].reshape(-1)
    return codes, strings["core"]


def prepare_columns(
    cols: RecordColumns,
    interner: Interner | None = None,
    helper: Executor | None = None,
    cached: bool = False,
    helper_share: float = HELPER_SHARE,
) -> Prepared:
    """Normalise and encode every distinct value once, then index the records' columns.

    With a helper process (batch CLI only: the service never forks its threaded process), the
    surname table, the INS checks and the phone codes are built there meanwhile. ``cached``:
    names go through the process's feature caches (many batches sharing names, as a bulk
    load's chunks; with a helper, the helper's own caches too, which last as long as it does),
    and the given-name lists' and surnames' columns through memos kept with ``interner``
    (_Memo).
    ``helper_share``: the share of the distinct surnames the helper encodes (a caller that
    keeps this process busier meanwhile gives it more).
    """
    intern = interner or Interner()
    index: dict[str, int] = {}
    birth = distinct_codes(cols.birth_name.values, index)[cols.birth_name.codes]
    used = distinct_codes(cols.used_name.values, index)[cols.used_name.codes]
    names = list(index) or [""]
    # The INS history shares the INS namespace: then the INS are coded here, with it.
    ins = None if cols.ins_history else cols.ins.values
    # The surname table (FONEM, Phonex), the INS checks and the phone codes are the longest
    # steps: a second process does them while this one does the given names and other traits,
    # then the first surnames (1 - HELPER_SHARE of them). The INS and phone codes come last:
    # they are not interned, so the helper codes them while this one interns the surnames.
    # Cached: only the surnames no earlier batch of this interner brought (_Memo).
    memo = _SURNAME_MEMOS.setdefault(intern, _Memo()) if cached else None
    todo = memo.missing(names) if memo else names
    split = len(todo) - int(len(todo) * helper_share) if helper else len(todo)
    with gc_paused():
        helped = helper.submit(surname_factors, todo[split:], cached) if helper else None
        owned = helper.submit(own_codes, ins, cols.phone.values) if helper and ins else None
        given, firsts = _given_columns(cols.first_names, intern, cached)
        codes = {**given, **trait_columns(cols, intern)}
        codes["address_id"], addresses = free_text(cols.address, intern)
        codes["address_prefix"] = address_prefix(cols.address, intern)
        codes["city_id"], cities = free_text(cols.city, intern)
        parts = [surname_factors(todo[:split], cached), *([helped.result()] if helped else [])]
        if memo is None:
            table, surname_cores = surname_table_columns(parts, intern)
        else:
            table, surname_cores = _surname_table(memo, names, todo, parts, intern)
        surnames, cores = _surname_columns(table, surname_cores, birth, used)
        ins_index = {"": 0}
        own = owned.result() if owned else own_codes(cols.ins.values, cols.phone.values, ins_index)
    codes.update(own_columns(cols, own, ins_index))
    codes.update(surnames)
    n = len(cols.ids)
    codes = {k: np.ascontiguousarray(v, dtype=np.int64).reshape(n) for k, v in codes.items()}
    strings = {"bn_core": cores, "first": firsts, "address": addresses, "city": cities}
    return Prepared(ids=cols.ids, strings=strings, codes=codes, interner=intern)


def prepare(
    records: Sequence[IdentityRecord], interner: Interner | None = None, cached: bool = False
) -> Prepared:
    """Normalise and encode every record once (``cached``: see prepare_columns)."""
    return prepare_columns(RecordColumns.from_records(records), interner, cached=cached)
