"""The identities CSV of the batch deduplication read column by column (what `socle dedupe` calls).

A clean file — every row of the header's width, with an id, a valid date and sex, and no quoted
field — is parsed and factorised by Arrow's CSV reader, in C++ and on every core: a million rows
cost about a second instead of the fifteen the row-by-row reader (csv_input) takes in Python. Any
row to report or skip, or any quote, sends the whole file to the row-by-row reader instead, which
names each problem with its line number: the result is the same either way.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from pyarrow import csv as arrow_csv

from matching.csv_input import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    InputError,
    RowError,
    build_columns,
    date_problem,
    read_header,
    sex_problem,
)
from matching.csv_input import read_columns as read_rows
from matching.features import Factor
from matching.prepared import RecordColumns

_CHECKED = {"birth_date": date_problem, "sex": sex_problem}
# Other columns (a truth column of a benchmark file, say) are not read.
_READ = frozenset((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS))


def _table(data: bytes, header: list[str]) -> pa.Table | None:
    """The id and trait columns as strings; None when a row has another width than the header."""
    invalid: list[int] = []

    def refuse(_row: object) -> str:
        invalid.append(1)
        return "skip"

    try:
        table = arrow_csv.read_csv(
            pa.BufferReader(data),
            read_options=arrow_csv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=arrow_csv.ParseOptions(invalid_row_handler=refuse),
            convert_options=arrow_csv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                include_columns=[name for name in header if name in _READ],
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    return None if invalid else table


def _factor(column: pa.ChunkedArray) -> Factor[str]:
    """Codes into the distinct values, in first-seen order (as features.factorise gives)."""
    encoded = column.combine_chunks().dictionary_encode()
    return Factor(_int64(encoded.indices), encoded.dictionary.to_pylist())


def _int64(indices: pa.Array) -> npt.NDArray[np.int64]:
    """Arrow's dictionary indices (never null here) as int64, read from their buffer.

    ``to_numpy`` and ``np.asarray`` would do the same but import pandas for it (half a second).
    """
    width = indices.type.bit_width
    values = np.frombuffer(
        indices.buffers()[1],
        dtype=np.dtype(f"int{width}"),
        count=len(indices),
        offset=indices.offset * width // 8,
    )
    return values.astype(np.int64)


def read_clean(data: bytes, header: list[str]) -> RecordColumns | None:
    """The file's columns when nothing in it is to be reported; None otherwise."""
    if b'"' in data or len(set(header)) != len(header):
        return None
    table = _table(data, header)
    if table is None:
        return None
    names = [name for name in table.column_names if name != "source_id"]
    # Arrow encodes a column without the interpreter's lock: the columns go on every core,
    # while this thread reads the ids.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        factors = pool.map(_factor, map(table.column, names))
        ids = [ident.strip() for ident in table.column("source_id").to_pylist()]
        raw = dict(zip(names, factors, strict=True))
    if not all(ids) or len(set(ids)) != len(ids):
        return None
    for name, problem in _CHECKED.items():
        if name in raw and any(problem(value) for value in raw[name].values):
            return None
    return build_columns(ids, raw)


def read_columns(
    path: str | Path, helper: Executor | None = None
) -> tuple[RecordColumns, list[RowError]]:
    """Parse the input CSV into columns; raise InputError for a missing column.

    A clean file is read by Arrow; any other by the row-by-row reader (csv_input.read_columns).
    """
    with open(path, "rb") as handle:
        data = handle.read()
    text = io.StringIO(data[:65536].decode("utf-8-sig", errors="replace"), newline="")
    header = read_header(text)
    columns = read_clean(data, header)
    del data
    if columns is not None:
        return columns, []
    return read_rows(path, helper)


__all__ = ["InputError", "read_clean", "read_columns"]
