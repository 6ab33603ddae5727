"""Record columns, the interner, and the encoding of every trait but the names.

Each distinct value of a column is encoded once and its codes are spread to the records by
indexing. The INS and the phones are only ever compared with their own column, so they are
coded in namespaces of their own: the helper process of the batch CLI builds them (plain
integer arrays come back, not a million strings), and the shared interner stays small.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from matching.features import Factor, distinct_codes, factorise
from matching.nir import ins_table, matricule13
from matching.normalize import digits, glue, normalize_free_text
from matching.records import IdentityRecord

IntArray = npt.NDArray[np.int64]
ObjArray = npt.NDArray[np.object_]
HISTORY_WIDTH = 2
# Characters of the glued address in the address blocking key: the number and the start of the
# street name, which survive most typing errors made further on.
ADDRESS_PREFIX = 6


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
class OwnCodes:
    """Per distinct value, the codes of the traits coded in their own namespace (0: missing)."""

    ins: IntArray
    ins_valid: IntArray
    phone: IntArray


def own_codes(
    ins: Sequence[str], phones: Sequence[str], index: dict[str, int] | None = None
) -> OwnCodes:
    """INS (13-character matricule) and phone (last nine digits) codes of distinct values.

    index: the INS namespace, to be shared with the INS history (filled here).
    """
    matricules, valid = ins_table(ins)
    numbers = [v if v.isascii() and v.isdigit() else digits(v) for v in phones] or [""]
    return OwnCodes(
        ins=distinct_codes(matricules, {"": 0} if index is None else index),
        ins_valid=np.array(valid, dtype=np.int64),
        phone=distinct_codes([n[-9:] for n in numbers], {"": 0}),
    )


def history_codes(history: list[tuple[str, ...]], index: dict[str, int]) -> dict[str, IntArray]:
    """The older matricules of each record, coded in the INS namespace (-1: none)."""
    table = np.full((len(history), HISTORY_WIDTH), -1, dtype=np.int64)
    for row, values in enumerate(history):
        if values:
            found = [index.setdefault(m, len(index)) for m in map(matricule13, values) if m]
            table[row] = (found + [-1] * HISTORY_WIDTH)[:HISTORY_WIDTH]
    return {f"hist{i}": table[:, i].copy() for i in range(HISTORY_WIDTH)}


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


def _postcode_codes(raw: str, intern: Interner) -> tuple[int, int]:
    postcode = digits(raw)
    return intern(postcode), intern(postcode[:2])


def free_text(factor: Factor[str], intern: Interner) -> tuple[IntArray, ObjArray]:
    """Interned normalised text of each record, and the text itself (addresses, cities)."""
    texts = [normalize_free_text(v) for v in factor.values] or [""]
    return intern.many(texts)[factor.codes], np.array(texts, dtype=object)[factor.codes]


def address_prefix(factor: Factor[str], intern: Interner) -> IntArray:
    """Interned first ADDRESS_PREFIX characters of the glued address ("" when shorter)."""
    glued = [normalize_free_text(v).replace(" ", "") for v in factor.values] or [""]
    prefixes = [g[:ADDRESS_PREFIX] if len(g) >= ADDRESS_PREFIX else "" for g in glued]
    return intern.many(prefixes)[factor.codes]


def trait_columns(cols: RecordColumns, intern: Interner) -> dict[str, IntArray]:
    """Sex, birth date, place, used first name and postcode columns of the records."""
    sexes = {"M": 1, "F": 2}
    return {
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


def own_columns(cols: RecordColumns, own: OwnCodes, index: dict[str, int]) -> dict[str, IntArray]:
    """The INS, INS history and phone columns of the records from their distinct codes."""
    out = {
        "ins": own.ins[cols.ins.codes],
        "ins_valid": own.ins_valid[cols.ins.codes],
        "phone": own.phone[cols.phone.codes],
    }
    if cols.ins_history:
        out.update(history_codes(cols.ins_history, index))
    else:
        out.update({f"hist{i}": np.full(len(cols.ids), -1, np.int64) for i in range(HISTORY_WIDTH)})
    return out
