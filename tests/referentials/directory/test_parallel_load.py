"""A first RPPS+ load parsed in worker processes: the same result as in one process."""

from __future__ import annotations

import itertools
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.runs import ImportRun
from referentials.directory.errors import ImportAborted, ImportFileError
from referentials.directory.importers import PROFESSIONALS
from referentials.directory.limits import Limits
from referentials.directory.models import Activity, Professional
from referentials.directory.parallel import SpannedFile
from referentials.directory.parsers.common import Entity, ParseReport
from referentials.directory.parsers.rpps import parse_personne_activite, spans
from referentials.directory.snapshot import import_snapshot
from tests.referentials.directory.conftest import (
    FINESS_JSON,
    Importer,
    luhn_key,
    rpps_lines,
    write_rpps,
)

IN_WORKERS = {"parse_workers": 2, "parallel_min_bytes": 0}
IN_ONE = {"parse_workers": 1}


def extract(folder: Path, count: int = 400) -> tuple[Path, list[str]]:
    """``count`` professionals, one in three with two activities, one with a bad Luhn key;
    one professional's second activity far away (in the other half), two malformed lines."""
    header, first, second = rpps_lines()[:3]
    lines = [header]
    for n in range(count):
        body = f"2{n:09d}"
        number = body + (luhn_key(body) if n != 7 else str((int(luhn_key(body)) + 1) % 10))
        lines.append(first.replace("19990000010", number))
        if n % 3 == 0:
            lines.append(second.replace("19990000028", number))
    moved = lines.pop(4)  # the second activity of the professional n=3
    lines.append(moved)
    lines.insert(len(lines) // 4, "8|garbage")
    lines.insert(3 * len(lines) // 4, "also|bad")
    return write_rpps(folder, lines), lines


def stored(factory: sessionmaker[Session]) -> dict[str, Any]:
    """The directory without what differs between two runs (times, run and row ids)."""
    with factory() as session:
        people = sorted(
            (p.idnps, p.identifier, p.last_name, p.last_name_norm, p.digest, p.warnings)
            for p in session.scalars(select(Professional))
        )
        activities = [
            (a.idnps, a.profession_code, a.finess_site, a.department_code, a.details)
            for a in session.scalars(select(Activity))
        ]
        activities.sort(key=repr)
    return {"professionals": people, "activities": activities}


def clear(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("dir_activities", "dir_professionals", "dir_changes"):
            conn.execute(text(f"DELETE FROM {table}"))


def test_spans_start_at_a_new_professional_and_cover_every_line(tmp_path: Path) -> None:
    path, _lines = extract(tmp_path)
    data = path.read_bytes()
    cuts = spans(path, 3)
    assert len(cuts) == 3
    assert cuts[0][0] == data.index(b"\n") + 1 and cuts[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cuts))
    for start, _end in cuts[1:]:
        before = data[: start - 1].rsplit(b"\n", 1)[-1].split(b"|")[2]
        after = data[start:].split(b"\n", 1)[0].split(b"|")[2]
        assert before != after, "a span starts inside a professional's lines"


def test_workers_store_exactly_what_one_process_stores(
    run_import: Importer, engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path, _lines = extract(tmp_path)
    alone = run_import("rpps", path, max_bad_line_share=0.05, **IN_ONE)
    expected = stored(session_factory)
    clear(engine)
    shared = run_import("rpps", path, max_bad_line_share=0.05, **IN_WORKERS)
    assert stored(session_factory) == expected
    for key in ("rows", "professionals", "added", "bad_lines", "warnings"):
        assert shared[key] == alone[key], key
    assert (shared["professionals"], shared["bad_lines"], shared["warnings"]) == (400, 2, 3)
    with session_factory() as session:
        split = session.get(Professional, "8" + "2000000003" + luhn_key("2000000003"))
        assert split is not None and len(split.activities) == 2
        run = session.get(ImportRun, shared["run_id"])
        assert run is not None and run.warnings is not None
        # Malformed lines keep the numbers they have in the whole file.
        numbers = sorted(int(w.split(":")[0].removeprefix("line ")) for w in run.warnings[:2])
    lines = path.read_text().splitlines()
    assert numbers == [i + 1 for i, line in enumerate(lines) if line in ("8|garbage", "also|bad")]


def test_a_bad_byte_in_a_later_span_names_its_line_and_changes_nothing(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path, lines = extract(tmp_path)
    at = len(lines) - 20
    cells = lines[at].split("|")
    cells[7] += "\udcff"  # a lone 0xFF byte in the exercise name
    lines[at] = "|".join(cells)
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
    with pytest.raises(ImportFileError, match=f"line {at + 1}: not valid UTF-8"):
        run_import("rpps", path, max_bad_line_share=0.05, **IN_WORKERS)
    assert stored(session_factory)["professionals"] == []


def test_a_cut_file_changes_nothing(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path, _lines = extract(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])
    with pytest.raises(ImportAborted, match="truncated"):
        run_import("rpps", path, max_bad_line_share=0.05, **IN_WORKERS)
    assert stored(session_factory)["professionals"] == []


def _dies_in_later_spans(
    stream: IO[bytes], *, name: str, report: ParseReport, span: tuple[int, int]
) -> Iterator[Entity]:
    """A worker that is killed (out of memory, say) once it is past the first span."""
    for number, entity in enumerate(
        parse_personne_activite(stream, name=name, report=report, span=span)
    ):
        if span[0] > 2000 and number == 5:
            os._exit(3)
        yield entity


def test_a_worker_that_dies_fails_the_load_and_changes_nothing(
    engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path, _lines = extract(tmp_path)

    def serial(report: ParseReport) -> Iterator[Entity]:
        with path.open("rb") as stream:
            yield from parse_personne_activite(stream, name=path.name, report=report)

    spanned = SpannedFile(path, path.name, _dies_in_later_spans, spans, 2)
    with pytest.raises(RuntimeError, match="ended with code 3"):
        import_snapshot(
            engine,
            PROFESSIONALS,
            serial,
            run_id=1,
            limits=Limits(max_bad_line_share=0.05),
            report=ParseReport(),
            spanned=spanned,
        )
    assert stored(session_factory)["professionals"] == []
    # The indexes dropped for the load came back with the rollback.
    names = {ix["name"] for ix in inspect(engine).get_indexes("dir_activities")}
    assert "ix_dir_activities_finess_site" in names


def test_a_zipped_extract_is_unpacked_for_the_workers_and_the_copy_removed(
    run_import: Importer, engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    path, _lines = extract(tmp_path / "plain")
    archive = tmp_path / "PS_LibreAcces_202605040000.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.write(path, path.name)
    unpack_to = tmp_path / "downloads"
    run_import("finess", FINESS_JSON)  # structures stored: still a first load of professionals
    run_import("rpps", path, max_bad_line_share=0.05, **IN_ONE)
    expected = stored(session_factory)
    clear(engine)
    shared = run_import(
        "rpps", archive, max_bad_line_share=0.05, download_dir=unpack_to, **IN_WORKERS
    )
    assert shared["professionals"] == 400 and stored(session_factory) == expected
    assert unpack_to.is_dir() and list(unpack_to.iterdir()) == []
