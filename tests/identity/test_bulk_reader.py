"""The bulk load's reader: the same parsed chunks from its forked process as from its thread."""

from __future__ import annotations

import csv
import os
import sys
from datetime import date
from pathlib import Path

import pytest

from identity.imports import reader
from referentials.core.errors import ValidationFailed
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))
from generate_identities import FIELDS, generate, write_csv

FINESS = "690999016"


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    write_csv(generate(90, 11), path)
    with path.open("a", newline="", encoding="utf-8") as handle:
        out = csv.DictWriter(handle, FIELDS, restval="")
        out.writerow({"source_id": "BAD1", "birth_name": "X", "sex": "M", "birth_date": "1990"})
        out.writerow(
            {"source_id": "BAD2", "birth_name": "DUPONT", "first_names": "JEAN", "sex": "M",
             "birth_date": "2990-01-01"}
        )  # fmt: skip
    return path


def _pids(path: Path, size: int, process: bool) -> tuple[list[reader.ParsedChunk], set[int]]:
    """The chunks, and the processes that parsed them (parse_chunk spied on)."""
    pids: set[int] = set()
    parse = reader.parse_chunk

    def spy(*args: object, **kwargs: object) -> reader.ParsedChunk:
        pids.add(os.getpid())
        chunk = parse(*args, **kwargs)  # type: ignore[arg-type]
        chunk.errors.append((0, f"pid {os.getpid()}"))  # travels back with the chunk
        return chunk

    reader.parse_chunk = spy  # type: ignore[assignment]
    try:
        chunks = list(reader.parsed_chunks(path, FINESS, date(2026, 1, 1), size, process))
    finally:
        reader.parse_chunk = parse
    for chunk in chunks:
        pids.update(int(message.split()[1]) for line, message in chunk.errors if line == 0)
        chunk.errors[:] = [e for e in chunk.errors if e[0] != 0]
    return chunks, pids


@pytest.mark.parametrize("size", [7, 40, 10_000])
def test_forked_reader_gives_the_threads_chunks(tmp_path: Path, size: int) -> None:
    path = _file(tmp_path)
    threaded, here = _pids(path, size, False)
    forked, pids = _pids(path, size, True)
    assert here == {os.getpid()}
    assert forked == threaded
    with path.open(encoding="utf-8", newline="") as handle:
        total = sum(1 for _ in csv.DictReader(handle))
    assert sum(c.rows for c in forked) == total
    assert any(c.errors for c in forked)  # the row that does not parse
    assert any(p.fields is None for c in forked for p in c.parsed)  # refused traits
    # The first chunk is parsed here, the others (when there are any) in another process.
    assert os.getpid() in pids
    assert len(pids) == (1 if size >= total else 2)


def test_a_refused_header_is_raised_here(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("source_id,birth_name\nA1,DUPONT\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as refused:
        list(reader.parsed_chunks(path, FINESS, date(2026, 1, 1), 10, process=True))
    assert refused.value.fields == {"columns": ["first_names", "sex", "birth_date"]}
