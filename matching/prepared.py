"""Columnar, pre-normalised view of a list of records, built once and shared by every comparison.

Strings are interned to integers so that most agreement tests are numpy equality checks; only the
fuzzy levels look at the strings themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from matching.nir import is_valid_ins, matricule13
from matching.normalize import (
    digits,
    given_name_forms,
    glue,
    name_parts,
    normalize_free_text,
    split_given_names,
    surname_core,
)
from matching.phonetics import fonem, phonex
from matching.records import IdentityRecord

IntArray = npt.NDArray[np.int64]
ObjArray = npt.NDArray[np.object_]
GIVEN_WIDTH = 4  # given-name forms kept per record; later ones add little evidence
HISTORY_WIDTH = 2


class Interner:
    """Maps strings to stable positive ints; the empty string is 0 (missing)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {"": 0}

    def __call__(self, value: str) -> int:
        found = self._ids.get(value)
        if found is None:
            found = len(self._ids)
            self._ids[value] = found
        return found

    def get(self, value: str) -> int:
        """Id of an already interned value, -1 when never seen (so it equals nothing)."""
        return self._ids.get(value, -1)


@lru_cache(maxsize=262_144)
def surname_features(value: str) -> tuple[str, str, tuple[str, ...], str, str]:
    """(glued, core, parts, FONEM of core, Phonex of core) of a surname."""
    glued = glue(value)
    core = surname_core(value) or glued
    parts = name_parts(value)
    return glued, core, parts if len(parts) > 1 else (), fonem(core), phonex(core)


@lru_cache(maxsize=262_144)
def given_features(names: tuple[str, ...]) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    """(first given name glued, its Phonex, whole forms, parts) of a given-name list."""
    normalised = split_given_names(names)
    if not normalised:
        return "", "", (), ()
    wholes, parts = given_name_forms(normalised)
    first = glue(normalised[0])
    return first, phonex(first), tuple(sorted(wholes)), tuple(sorted(parts))


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


def _pad(values: Sequence[int], width: int) -> list[int]:
    return (list(values) + [-1] * width)[:width]


def _name_codes(rec: IdentityRecord, intern: Interner) -> list[int]:
    glued, core, parts, bn_fon, bn_phx = surname_features(rec.birth_name)
    used_glued, used_core, *_ = surname_features(rec.used_name)
    first, first_phx, wholes, gparts = given_features(rec.first_names)
    return [
        *map(intern, (glued, core, bn_fon, bn_phx, used_glued, used_core)),
        *_pad([intern(p) for p in parts], 2),
        *map(intern, (first, first_phx, glue(rec.used_first_name))),
        *_pad([intern(w) for w in wholes], GIVEN_WIDTH),
        *_pad([intern(p) for p in gparts], GIVEN_WIDTH),
    ]


def _row(rec: IdentityRecord, intern: Interner) -> tuple[list[str], list[int]]:
    year, month, day = split_date(rec.birth_date)
    place = rec.birth_place_code.strip().upper()
    place = "" if place == "99999" else place
    ins = matricule13(rec.ins)
    history = [intern(m) for m in (matricule13(h) for h in rec.ins_history) if m]
    postcode = digits(rec.postcode)
    address, city = normalize_free_text(rec.address), normalize_free_text(rec.city)
    codes = [
        *_name_codes(rec, intern),
        {"M": 1, "F": 2}.get(rec.sex.strip().upper()[:1], 0),
        year,
        month,
        day,
        intern(place),
        intern(place_department(place)),
        int(place.startswith("99")),
        intern(ins),
        1 if ins and is_valid_ins(rec.ins) else 0,
        *_pad(history, HISTORY_WIDTH),
        intern(address),
        intern(postcode),
        intern(postcode[:2]),
        intern(city),
        intern(digits(rec.phone)[-9:]),
    ]
    core, first = surname_features(rec.birth_name)[1], given_features(rec.first_names)[0]
    return [core, first, address, city], codes


STRING_COLUMNS = ("bn_core", "first", "address", "city")
CODE_COLUMNS = (
    "bn",
    "bn_core_id",
    "bn_fonem",
    "bn_phonex",
    "used",
    "used_core",
    "bn_part0",
    "bn_part1",
    "first_id",
    "first_phonex",
    "used_first",
    *(f"whole{i}" for i in range(GIVEN_WIDTH)),
    *(f"gpart{i}" for i in range(GIVEN_WIDTH)),
    "sex",
    "year",
    "month",
    "day",
    "place",
    "dept",
    "abroad",
    "ins",
    "ins_valid",
    *(f"hist{i}" for i in range(HISTORY_WIDTH)),
    "address_id",
    "postcode",
    "pc_dept",
    "city_id",
    "phone",
)


def _encode_chunk(
    records: Sequence[IdentityRecord], intern: Interner
) -> tuple[ObjArray, npt.NDArray[np.int64]]:
    string_rows: list[list[str]] = []
    code_rows: list[list[int]] = []
    for rec in records:
        strings, codes = _row(rec, intern)
        string_rows.append(strings)
        code_rows.append(codes)
    n = len(records)
    code_matrix = np.array(code_rows, dtype=np.int64).reshape(n, len(CODE_COLUMNS))
    string_matrix = np.empty((n, len(STRING_COLUMNS)), dtype=object)
    if n:
        string_matrix[:, :] = string_rows
    return string_matrix, code_matrix


def prepare(
    records: Sequence[IdentityRecord], interner: Interner | None = None, chunk: int = 50_000
) -> Prepared:
    """Normalise and encode every record once (in chunks, to bound the Python-object peak)."""
    intern = interner or Interner()
    parts = [_encode_chunk(records[i : i + chunk], intern) for i in range(0, len(records), chunk)]
    if not parts:
        parts = [_encode_chunk([], intern)]
    string_matrix = np.concatenate([p[0] for p in parts])
    code_matrix = np.concatenate([p[1] for p in parts])
    return Prepared(
        ids=[r.id for r in records],
        strings={name: string_matrix[:, i].copy() for i, name in enumerate(STRING_COLUMNS)},
        codes={
            name: np.ascontiguousarray(code_matrix[:, i]) for i, name in enumerate(CODE_COLUMNS)
        },
        interner=intern,
    )
