"""The column reader of `socle dedupe`: Arrow for a clean file, the row reader otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matching.csv_columns import read_clean, read_columns
from matching.csv_input import read_columns as read_rows
from matching.prepared import RecordColumns

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "matching"
TRAITS = ("birth_name", "first_names", "used_name", "sex", "birth_date", "ins", "city", "phone")


def same_columns(a: RecordColumns, b: RecordColumns) -> bool:
    return a.ids == b.ids and all(
        np.array_equal(getattr(a, t).codes, getattr(b, t).codes)
        and getattr(a, t).values == getattr(b, t).values
        for t in TRAITS
    )


def header_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[0].split(",")


def test_a_clean_file_is_read_by_arrow_as_the_row_reader_reads_it() -> None:
    path = FIXTURES / "identities_small.csv"
    fast = read_clean(path.read_bytes(), header_of(path))
    assert fast is not None
    rows, errors = read_rows(path)
    assert errors == [] and same_columns(fast, rows)
    assert fast.sex.values[int(fast.sex.codes[0])] == "M"
    assert fast.first_names.values[int(fast.first_names.codes[0])] == ("JEAN-PIERRE", "MARC")


def test_a_file_with_rows_to_report_goes_to_the_row_reader() -> None:
    path = FIXTURES / "malformed.csv"
    assert read_clean(path.read_bytes(), header_of(path)) is None
    columns, errors = read_columns(path)
    assert columns.ids == ["M01", "M04"]
    assert {e.line for e in errors} == {3, 4, 6, 7, 8}


def test_a_duplicate_id_or_a_quoted_field_is_left_to_the_row_reader(tmp_path: Path) -> None:
    clean = (FIXTURES / "identities_small.csv").read_text(encoding="utf-8").splitlines()
    doubled = tmp_path / "doubled.csv"
    doubled.write_text("\n".join([*clean, clean[1]]) + "\n", encoding="utf-8")
    assert read_clean(doubled.read_bytes(), header_of(doubled)) is None
    columns, errors = read_columns(doubled)
    assert [(e.line, e.message) for e in errors] == [(len(clean) + 1, "duplicate source_id")]
    quoted = tmp_path / "quoted.csv"
    head, first, *rest = clean
    first = first.replace("12 RUE PASTEUR", '"12, RUE PASTEUR"')
    quoted.write_text("\n".join([head, first, *rest]), "utf-8")
    assert read_clean(quoted.read_bytes(), header_of(quoted)) is None
    columns, errors = read_columns(quoted)
    assert errors == [] and len(columns.ids) == len(clean) - 1
