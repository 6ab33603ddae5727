"""Columnar, pre-normalised view of a list of records, built once and shared by every comparison.

Strings are interned to integers so that most agreement tests are numpy equality checks; only the
fuzzy levels look at the strings themselves. Each distinct value of a column is normalised once
(features.py) and its codes are spread to the records by indexing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from matching.features import (
    Factor,
    distinct_codes,
    factorise,
    given_features,
    given_table,
    string_rank,
    surname_features,
    surname_table,
)
from matching.nir import is_valid_ins, matricule13
from matching.normalize import digits, glue, normalize_free_text
from matching.records import IdentityRecord
from matching.runtime import gc_paused

IntArray = npt.NDArray[np.int64]
ObjArray = npt.NDArray[np.object_]
GIVEN_WIDTH = 4  # given-name forms kept per record; later ones add little evidence
HISTORY_WIDTH = 2
# Characters of the glued address in the address blocking key: the number and the start of the
# street name, which survive most typing errors made further on.
ADDRESS_PREFIX = 6
__all__ = ["given_features", "surname_features"]  # re-exported for the single-record callers


class Interner:
    """Maps strings to stable positive ints; the empty string is 0 (missing)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {"": 0}
        self._table: ObjArray | None = None
        self._lengths: IntArray | None = None

    def __call__(self, value: str) -> int:
        found = self._ids.get(value)
        if found is None:
            found = len(self._ids)
            self._ids[value] = found
        return found

    def many(self, values: Iterable[str]) -> IntArray:
        """Ids of many values at once (no method call per value)."""
        return distinct_codes(list(values), self._ids)

    def get(self, value: str) -> int:
        """Id of an already interned value, -1 when never seen (so it equals nothing)."""
        return self._ids.get(value, -1)

    def strings(self) -> ObjArray:
        """Every interned string, indexed by its id (ids are given in insertion order)."""
        if self._table is None or len(self._table) != len(self._ids):
            self._table = np.array(list(self._ids), dtype=object)
            self._lengths = np.fromiter(map(len, self._ids), dtype=np.int64, count=len(self._ids))
        return self._table

    def lengths(self) -> IntArray:
        """Length of every interned string, indexed by its id."""
        self.strings()
        assert self._lengths is not None
        return self._lengths


def split_date(value: str) -> tuple[int, int, int]:
    """(year, month, day) of a YYYY-MM-DD date, (0, 0, 0) when absent or malformed."""
    if len(value) != 10 or value[4] != "-" or value[7] != "-":
        return 0, 0, 0
    try:
        return int(value[:4]), int(value[5:7]), int(value[8:])
    except ValueError:
        return 0, 0, 0


def place_department(code: str) -> str:
    """Department of an INSEE COG code; "" for abroad (99) and unknown places."""
    if len(code) != 5 or code.startswith("99"):
        return ""
    return code[:3] if code[:2] in ("97", "98") else code[:2]


@dataclass(slots=True)
class RecordColumns:
    """The traits of n records, one factorised column per trait (what the CSV reader builds)."""

    ids: list[str]
    birth_name: Factor[str]
    first_names: Factor[tuple[str, ...]]
    used_name: Factor[str]
    used_first_name: Factor[str]
    sex: Factor[str]
    birth_date: Factor[str]
    birth_place_code: Factor[str]
    ins: Factor[str]
    address: Factor[str]
    postcode: Factor[str]
    city: Factor[str]
    phone: Factor[str]
    ins_history: list[tuple[str, ...]] = field(default_factory=list)  # empty: no history

    @classmethod
    def from_records(cls, records: Sequence[IdentityRecord]) -> RecordColumns:
        """Columns of a list of records."""
        history = [r.ins_history for r in records]
        return cls(
            ids=[r.id for r in records],
            birth_name=factorise([r.birth_name for r in records]),
            first_names=factorise([r.first_names for r in records]),
            used_name=factorise([r.used_name for r in records]),
            used_first_name=factorise([r.used_first_name for r in records]),
            sex=factorise([r.sex for r in records]),
            birth_date=factorise([r.birth_date for r in records]),
            birth_place_code=factorise([r.birth_place_code for r in records]),
            ins=factorise([r.ins for r in records]),
            address=factorise([r.address for r in records]),
            postcode=factorise([r.postcode for r in records]),
            city=factorise([r.city for r in records]),
            phone=factorise([r.phone for r in records]),
            ins_history=history if any(history) else [],
        )


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


def _slot(tuples: Sequence[tuple[str, ...]], i: int, intern: Interner) -> IntArray:
    """Interned i-th item of each tuple, -1 where the tuple is shorter (equals nothing)."""
    ids = intern.many(t[i] if len(t) > i else "" for t in tuples)
    return np.where(np.array([len(t) > i for t in tuples], dtype=bool), ids, -1)


def _initial(values: Sequence[str]) -> IntArray:
    return np.array([ord(v[0]) if v else 0 for v in values], dtype=np.int64)


def _prefix(values: Sequence[str], intern: Interner) -> IntArray:
    return intern.many(v[:3] if len(v) >= 3 else "" for v in values)


def _surname_columns(
    rows: list[tuple[str, str, tuple[str, ...], str, str]],
    birth: IntArray,
    used: IntArray,
    intern: Interner,
) -> tuple[dict[str, IntArray], ObjArray]:
    glued, cores, parts, fonems, phonexes = (list(column) for column in zip(*rows, strict=True))
    table = {
        "bn": intern.many(glued),
        "bn_core_id": intern.many(cores),
        "bn_fonem": intern.many(fonems),
        "bn_phonex": intern.many(phonexes),
        "bn_part0": _slot(parts, 0, intern),
        "bn_part1": _slot(parts, 1, intern),
        "bn_initial": _initial(fonems),
        "bn_prefix": _prefix(glued, intern),
        # String order of the FONEM codes: the sorted window of an over-common block follows it.
        "bn_fonem_rank": string_rank(fonems),
    }
    out = {name: column[birth] for name, column in table.items()}
    out.update(used=table["bn"][used], used_core=table["bn_core_id"][used])
    out["used_fonem"] = table["bn_fonem"][used]
    return out, np.array(cores, dtype=object)[birth]


def _given_columns(
    factor: Factor[tuple[str, ...]], intern: Interner, cached: bool = False
) -> tuple[dict[str, IntArray], ObjArray]:
    rows = given_table(factor.values, cached) or [(("", "", (), ()), "")]
    firsts = [features[0] for features, _ in rows]
    wholes = [features[2] for features, _ in rows]
    parts = [features[3] for features, _ in rows]
    table = {
        "first_id": intern.many(firsts),
        "first_phonex": intern.many(features[1] for features, _ in rows),
        **{f"whole{i}": _slot(wholes, i, intern) for i in range(GIVEN_WIDTH)},
        **{f"gpart{i}": _slot(parts, i, intern) for i in range(GIVEN_WIDTH)},
        "first_fonem": intern.many(code for _, code in rows),
        "first_initial": _initial(firsts),
        "first_prefix": _prefix(firsts, intern),
    }
    codes = factor.codes
    return {k: v[codes] for k, v in table.items()}, np.array(firsts, dtype=object)[codes]


def _spread(
    factor: Factor[str], encode: Callable[[str], Sequence[int]], names: Sequence[str]
) -> dict[str, IntArray]:
    """encode() each distinct value once; one int column per name, indexed by record."""
    width = len(names)
    table = np.array([encode(v) for v in factor.values], dtype=np.int64).reshape(-1, width)
    if not len(table):
        table = np.zeros((1, width), dtype=np.int64)
    return {name: table[factor.codes, j] for j, name in enumerate(names)}


def _place_codes(raw: str, intern: Interner) -> tuple[int, int, int]:
    place = raw.strip().upper()
    place = "" if place == "99999" else place
    return intern(place), intern(place_department(place)), int(place.startswith("99"))


def _ins_table(values: Sequence[str]) -> tuple[list[str], list[int]]:
    """(13-character matricule, 1 if the whole INS is valid) of each distinct INS."""
    matricules = [matricule13(v) for v in values]
    valid = [1 if m and is_valid_ins(v) else 0 for m, v in zip(matricules, values, strict=True)]
    # One row even without records, so that indexing by the (empty) codes works.
    return matricules or [""], valid or [0]


def _helper_tables(
    names: Sequence[str], ins: Sequence[str], cached: bool = False
) -> tuple[list[tuple[str, str, tuple[str, ...], str, str]], tuple[list[str], list[int]]]:
    return surname_table(names, cached), _ins_table(ins)


def _history(cols: RecordColumns, intern: Interner) -> dict[str, IntArray]:
    table = np.full((len(cols.ids), HISTORY_WIDTH), -1, dtype=np.int64)
    for row, values in enumerate(cols.ins_history):
        if values:
            found = [intern(m) for m in (matricule13(h) for h in values) if m]
            table[row] = (found + [-1] * HISTORY_WIDTH)[:HISTORY_WIDTH]
    return {f"hist{i}": table[:, i].copy() for i in range(HISTORY_WIDTH)}


def _phone_codes(factor: Factor[str], intern: Interner) -> IntArray:
    """Interned last nine digits of each phone (a million distinct numbers: no call per value)."""
    numbers = [v if v.isascii() and v.isdigit() else digits(v) for v in factor.values] or [""]
    return intern.many(n[-9:] for n in numbers)[factor.codes]


def _postcode_codes(raw: str, intern: Interner) -> tuple[int, int]:
    postcode = digits(raw)
    return intern(postcode), intern(postcode[:2])


def _free_text(factor: Factor[str], intern: Interner) -> tuple[IntArray, ObjArray]:
    texts = [normalize_free_text(v) for v in factor.values] or [""]
    return intern.many(texts)[factor.codes], np.array(texts, dtype=object)[factor.codes]


def _address_prefix(factor: Factor[str], intern: Interner) -> IntArray:
    """Interned first ADDRESS_PREFIX characters of the glued address ("" when shorter)."""
    glued = [normalize_free_text(v).replace(" ", "") for v in factor.values] or [""]
    prefixes = [g[:ADDRESS_PREFIX] if len(g) >= ADDRESS_PREFIX else "" for g in glued]
    return intern.many(prefixes)[factor.codes]


def _trait_columns(cols: RecordColumns, intern: Interner) -> dict[str, IntArray]:
    sexes = {"M": 1, "F": 2}
    out = {
        **_spread(cols.sex, lambda v: (sexes.get(v.strip().upper()[:1], 0),), ("sex",)),
        **_spread(cols.birth_date, split_date, ("year", "month", "day")),
        **_spread(
            cols.birth_place_code,
            lambda v: _place_codes(v, intern),
            ("place", "dept", "abroad"),
        ),
        **_spread(cols.used_first_name, lambda v: (intern(glue(v)),), ("used_first",)),
        **_spread(cols.postcode, lambda v: _postcode_codes(v, intern), ("postcode", "pc_dept")),
    }
    out["phone"] = _phone_codes(cols.phone, intern)
    if cols.ins_history:
        out.update(_history(cols, intern))
    else:
        out.update({f"hist{i}": np.full(len(cols.ids), -1, np.int64) for i in range(HISTORY_WIDTH)})
    return out


def prepare_columns(
    cols: RecordColumns,
    interner: Interner | None = None,
    helper: Executor | None = None,
    cached: bool = False,
) -> Prepared:
    """Normalise and encode every distinct value once, then index the records' columns.

    With a helper process (batch CLI only: the service never forks its threaded process), the
    surname table and the INS checks are built there meanwhile. ``cached``: names go through
    the process's feature caches (many batches sharing names, as a bulk load's chunks; with a
    helper, the helper's own caches, which last as long as it does).
    """
    intern = interner or Interner()
    index: dict[str, int] = {}
    birth = distinct_codes(cols.birth_name.values, index)[cols.birth_name.codes]
    used = distinct_codes(cols.used_name.values, index)[cols.used_name.codes]
    names = list(index) or [""]
    # The surname table (FONEM, Phonex) and the INS checks are the longest steps: a second
    # process does them while this one does the given names and the other traits.
    with gc_paused():
        pending = helper.submit(_helper_tables, names, cols.ins.values, cached) if helper else None
        given, firsts = _given_columns(cols.first_names, intern, cached)
        codes = {**given, **_trait_columns(cols, intern)}
        codes["address_id"], addresses = _free_text(cols.address, intern)
        codes["address_prefix"] = _address_prefix(cols.address, intern)
        codes["city_id"], cities = _free_text(cols.city, intern)
        helped = pending.result() if pending else _helper_tables(names, cols.ins.values, cached)
    rows, (matricules, valid) = helped
    surnames, cores = _surname_columns(rows, birth, used, intern)
    codes.update(surnames)
    codes["ins"] = intern.many(matricules)[cols.ins.codes]
    codes["ins_valid"] = np.array(valid, dtype=np.int64)[cols.ins.codes]
    n = len(cols.ids)
    codes = {k: np.ascontiguousarray(v, dtype=np.int64).reshape(n) for k, v in codes.items()}
    strings = {"bn_core": cores, "first": firsts, "address": addresses, "city": cities}
    return Prepared(ids=cols.ids, strings=strings, codes=codes, interner=intern)


def prepare(
    records: Sequence[IdentityRecord], interner: Interner | None = None, cached: bool = False
) -> Prepared:
    """Normalise and encode every record once (``cached``: see prepare_columns)."""
    return prepare_columns(RecordColumns.from_records(records), interner, cached=cached)
