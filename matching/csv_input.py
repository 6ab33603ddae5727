"""Reading the identities CSV of the batch deduplication into factorised columns.

Input: UTF-8 CSV with a header holding at least REQUIRED_COLUMNS (OPTIONAL_COLUMNS may follow).
Malformed rows are reported with their line number and skipped; a missing column stops the run.
A large file without quoted fields is parsed in two halves, the second in a forked process.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matching.features import Factor, distinct_codes
from matching.prepared import IntArray, RecordColumns
from matching.records import IdentityRecord
from matching.runtime import gc_paused

REQUIRED_COLUMNS = (
    "source_id",
    "birth_name",
    "first_names",
    "used_name",
    "used_first_name",
    "sex",
    "birth_date",
    "birth_place_code",
    "ins",
)
OPTIONAL_COLUMNS = ("address", "postcode", "city", "phone")
SEXES = {"M": "M", "F": "F", "": "", "U": "", "I": ""}


class InputError(Exception):
    """The input file cannot be processed at all (e.g. a required column is missing)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class RowError:
    """A skipped input row: its physical line number and why (never its content)."""

    line: int
    message: str


def _check_date(value: str) -> str | None:
    if not value:
        return None
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return "birth_date must be YYYY-MM-DD"
    return None if len(value) == 10 else "birth_date must be YYYY-MM-DD"


_TRAITS = (*REQUIRED_COLUMNS[1:], *OPTIONAL_COLUMNS)
CHUNK_ROWS = 100_000  # rows held as Python lists at a time while reading
PARALLEL_BYTES = 4 << 20  # below this a second process costs more than it saves
_CHECKED = ("birth_date", "sex")


def sex_problem(value: str) -> str | None:
    """Why a raw sex value is refused (None: accepted)."""
    return None if value.strip().upper() in SEXES else "sex must be M, F or empty"


def date_problem(value: str) -> str | None:
    """Why a raw birth date is refused (None: accepted)."""
    return _check_date(value.strip())


class _Reader:
    """Factorises the valid rows into columns; collects the reasons of skipped rows.

    Each trait column is kept as codes into its distinct raw values, so a value repeated a
    million times is stored, checked and later normalised once.
    """

    def __init__(self, header: list[str]) -> None:
        self.width = len(header)
        self.at = {name: header.index(name) for name in _TRAITS if name in header}
        self.id_at = header.index("source_id")
        self.index: dict[str, dict[str, int]] = {name: {} for name in self.at}
        self.codes: dict[str, list[IntArray]] = {name: [] for name in self.at}
        self.problems: dict[str, list[str | None]] = {name: [] for name in _CHECKED}
        self.ids: list[str] = []
        self.lines: list[int] = []  # line of each kept row
        self.errors: list[RowError] = []
        self.seen: set[str] = set()

    def _shaped(self, rows: list[list[str]], lines: list[int]) -> tuple[list[list[str]], list[int]]:
        """Rows with the header's width; blank rows are dropped, others reported."""
        width, id_at = self.width, self.id_at
        if all(len(values) == width and values[id_at].strip() for values in rows):
            return rows, lines
        out: tuple[list[list[str]], list[int]] = ([], [])
        for values, line in zip(rows, lines, strict=True):
            if len(values) == width and values[id_at].strip():
                out[0].append(values)
                out[1].append(line)
            elif not any(v.strip() for v in values):
                continue
            elif len(values) != width:
                self.errors.append(RowError(line, f"expected {width} fields, got {len(values)}"))
            else:
                out[0].append(values)
                out[1].append(line)
        return out

    def _problem_of(self, name: str, codes: IntArray) -> list[str | None]:
        """Per row, the problem of its (distinct, checked once) value of a checked trait."""
        known = self.problems[name]
        check = date_problem if name == "birth_date" else sex_problem
        known.extend(check(v) for v in itertools.islice(self.index[name], len(known), None))
        return [known[c] for c in codes.tolist()]

    def chunk(self, rows: list[list[str]], lines: list[int]) -> None:
        """Check and factorise one chunk of rows."""
        rows, lines = self._shaped(rows, lines)
        transposed = list(zip(*rows, strict=True)) or [()] * self.width
        ids = [ident.strip() for ident in transposed[self.id_at]]
        codes = {
            name: distinct_codes(transposed[at], self.index[name]) for name, at in self.at.items()
        }
        dates = self._problem_of("birth_date", codes["birth_date"])
        sexes = self._problem_of("sex", codes["sex"])
        keep = np.zeros(len(rows), dtype=bool)
        seen = self.seen
        for i, ident in enumerate(ids):
            problem = ("source_id is empty" if not ident else None) or dates[i] or sexes[i]
            if problem is None and ident in seen:
                problem = "duplicate source_id"
            if problem:
                self.errors.append(RowError(lines[i], problem))
            else:
                seen.add(ident)
                keep[i] = True
        self.ids.extend(itertools.compress(ids, keep.tolist()))
        self.lines.extend(itertools.compress(lines, keep.tolist()))
        for name, column in codes.items():
            self.codes[name].append(column[keep])

    def columns(self) -> RecordColumns:
        """The valid rows as factorised columns."""
        raw = {
            name: Factor(np.concatenate([np.zeros(0, dtype=np.int64), *codes]), list(index))
            for (name, codes), index in zip(self.codes.items(), self.index.values(), strict=True)
        }
        return build_columns(self.ids, raw)


# How each trait's distinct raw values are cleaned (the others are kept as read).
_CLEAN: dict[str, Callable[[str], str]] = {
    "sex": lambda v: SEXES.get(v.strip().upper(), ""),
    "birth_date": str.strip,
    "birth_place_code": str.strip,
    "ins": str.strip,
}


def build_columns(ids: list[str], raw: dict[str, Factor[str]]) -> RecordColumns:
    """Record columns from each trait's raw factor; an absent trait is empty everywhere."""

    def factor(name: str) -> Factor[str]:
        found = raw.get(name)
        if found is None:
            return Factor(np.zeros(len(ids), dtype=np.int64), [""])
        clean = _CLEAN.get(name)
        return Factor(found.codes, [clean(v) for v in found.values] if clean else found.values)

    names = factor("first_names")
    return RecordColumns(
        ids=ids,
        birth_name=factor("birth_name"),
        first_names=Factor(
            names.codes, [tuple(n for n in v.split(" ") if n) for v in names.values]
        ),
        used_name=factor("used_name"),
        used_first_name=factor("used_first_name"),
        sex=factor("sex"),
        birth_date=factor("birth_date"),
        birth_place_code=factor("birth_place_code"),
        ins=factor("ins"),
        address=factor("address"),
        postcode=factor("postcode"),
        city=factor("city"),
        phone=factor("phone"),
    )


@dataclass(slots=True)
class _Part:
    """What the process parsing the second half of a file sends back (picklable, no set)."""

    ids: list[str]
    lines: list[int]
    codes: dict[str, IntArray]
    values: dict[str, list[str]]
    errors: list[RowError]


def _parse(handle: Iterable[str], state: _Reader, offset: int) -> _Reader:
    """Feed the rows of `handle` to `state` in chunks; `offset` lines precede the first one."""
    reader = csv.reader(handle)
    rows: list[list[str]] = []
    lines: list[int] = []
    for values in reader:
        rows.append(values)
        lines.append(reader.line_num + offset)
        if len(rows) == CHUNK_ROWS:
            state.chunk(rows, lines)
            rows, lines = [], []
    state.chunk(rows, lines)
    return state


def _parse_tail(path: str, start: int, offset: int, header: list[str]) -> _Part:
    with open(path, "rb") as handle, gc_paused():
        handle.seek(start)
        text = handle.read().decode("utf-8")
        state = _parse(io.StringIO(text, newline=""), _Reader(header), offset)
    codes = {name: np.concatenate([np.zeros(0, np.int64), *c]) for name, c in state.codes.items()}
    values = {name: list(index) for name, index in state.index.items()}
    return _Part(state.ids, state.lines, codes, values, state.errors)


def _merge(state: _Reader, part: _Part) -> None:
    """Append the second half to the first; an id already seen there is a duplicate."""
    keep = np.array([ident not in state.seen for ident in part.ids], dtype=bool)
    for line in itertools.compress(part.lines, (~keep).tolist()):
        part.errors.append(RowError(line, "duplicate source_id"))
    state.errors = sorted([*state.errors, *part.errors], key=lambda e: e.line)
    state.ids.extend(itertools.compress(part.ids, keep.tolist()))
    for name, codes in part.codes.items():
        mapping = distinct_codes(part.values[name], state.index[name])
        state.codes[name].append(mapping[codes[keep]] if len(codes) else codes)


def _split_point(data: bytes) -> int:
    """Byte offset of a line start near the middle; 0 when the file cannot be split safely.

    Without any quote character no field spans lines, so every newline ends a row.
    """
    if b'"' in data:
        return 0
    middle = data.find(b"\n", len(data) // 2)
    return middle + 1 if 0 <= middle < len(data) - 1 else 0


def read_header(handle: Iterable[str]) -> list[str]:
    """The header's column names; InputError when a required column is missing."""
    header = [h.strip() for h in next(csv.reader(handle), [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"missing column(s): {', '.join(missing)}", line=1)
    return header


def read_columns(
    path: str | Path, helper: Executor | None = None
) -> tuple[RecordColumns, list[RowError]]:
    """Parse the input CSV into columns; raise InputError for a missing column.

    With a helper process, a large file is parsed in two halves at once.
    """
    if helper is not None and os.path.getsize(path) >= PARALLEL_BYTES:
        with open(path, "rb") as raw:
            data = raw.read()
        start = _split_point(data)
        if start:
            return _read_halves(str(path), data, start, helper)
    with open(path, newline="", encoding="utf-8-sig") as handle, gc_paused():
        state = _parse(handle, _Reader(read_header(handle)), 1)
    return state.columns(), state.errors


def _read_halves(
    path: str, data: bytes, start: int, helper: Executor
) -> tuple[RecordColumns, list[RowError]]:
    head = io.StringIO(data[:start].decode("utf-8-sig"), newline="")
    offset = data.count(b"\n", 0, start)
    del data
    header = read_header(head)
    with gc_paused():
        tail = helper.submit(_parse_tail, path, start, offset, header)
        state = _parse(head, _Reader(header), 1)
        _merge(state, tail.result())
    return state.columns(), state.errors


def _text(factor: Factor[str], row: int) -> str:
    return factor.values[int(factor.codes[row])]


def read_records(path: str | Path) -> tuple[list[IdentityRecord], list[RowError]]:
    """Parse the input CSV; raise InputError for a missing column, collect row errors."""
    cols, errors = read_columns(path)
    records = [
        IdentityRecord(
            id=ident,
            birth_name=_text(cols.birth_name, row),
            first_names=cols.first_names.values[int(cols.first_names.codes[row])],
            used_name=_text(cols.used_name, row),
            used_first_name=_text(cols.used_first_name, row),
            sex=_text(cols.sex, row),
            birth_date=_text(cols.birth_date, row),
            birth_place_code=_text(cols.birth_place_code, row),
            ins=_text(cols.ins, row),
            address=_text(cols.address, row),
            postcode=_text(cols.postcode, row),
            city=_text(cols.city, row),
            phone=_text(cols.phone, row),
        )
        for row, ident in enumerate(cols.ids)
    ]
    return records, errors
