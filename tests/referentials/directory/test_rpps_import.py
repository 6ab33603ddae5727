"""RPPS+ import into the database: exact diffs, history, atomicity, companions, runs."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.runs import ImportRun
from referentials.directory import service as directory_service
from referentials.directory.errors import ImportAborted, ImportFileError
from referentials.directory.models import (
    Activity,
    DirectoryChange,
    Professional,
    ProfessionalDiploma,
    ProfessionalSkill,
)
from tests.referentials.directory.conftest import (
    RPPS,
    Importer,
    copy_rpps_with_companions,
    rpps_lines,
    write_rpps,
)


def snapshot(factory: sessionmaker[Session]) -> dict[str, Any]:
    """Everything an import may change, to compare before and after a refused one."""
    with factory() as session:
        return {
            "professionals": sorted(
                (p.idnps, p.digest, p.active, p.last_seen)
                for p in session.scalars(select(Professional))
            ),
            "activities": session.scalar(select(func.count()).select_from(Activity)),
            "changes": session.scalar(select(func.count()).select_from(DirectoryChange)),
        }


def run_of(factory: sessionmaker[Session], run_id: int) -> ImportRun:
    with factory() as session:
        run = session.get(ImportRun, run_id)
        assert run is not None
        return run


def last_run(factory: sessionmaker[Session]) -> ImportRun:
    with factory() as session:
        run = session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
        assert run is not None
        return run


def test_first_import_stores_professionals_with_activities(
    run_import: Importer, session_factory: sessionmaker[Session]
) -> None:
    summary = run_import("rpps", RPPS)
    assert (summary["rows"], summary["professionals"], summary["added"]) == (10, 9, 9)
    with session_factory() as session:
        cardio = session.get(Professional, "819990000028")
        assert cardio is not None and cardio.last_name_norm == "exemple marcoux"
        assert {a.finess_site for a in cardio.activities} == {"690999016", None}
        assert cardio.first_seen == cardio.last_seen and cardio.active
    run = run_of(session_factory, summary["run_id"])
    assert run.outcome == "succeeded" and run.checksum == summary["checksum"]
    assert run.counts is not None and run.counts["added"] == 9 and run.finished_at is not None


def test_reimport_writes_nothing_and_advances_last_seen(
    run_import: Importer, session_factory: sessionmaker[Session]
) -> None:
    run_import("rpps", RPPS)
    with session_factory() as session:
        first = directory_service.get_professional(session, "819990000010")
    before = snapshot(session_factory)
    summary = run_import("rpps", RPPS)
    assert (summary["added"], summary["updated"], summary["removed"]) == (0, 0, 0)
    assert summary["unchanged"] == 9
    assert snapshot(session_factory) == before
    with session_factory() as session:
        again = directory_service.get_professional(session, "819990000010")
    assert again.first_seen == first.first_seen and again.last_seen > first.last_seen


def next_day(lines: list[str]) -> list[str]:
    """Day 2: a phone changed, one professional gone, one new."""
    out = [lines[0]]
    for line in lines[1:]:
        if "|819990000044|" in line:
            continue
        out.append(line.replace("|0400000001|", "|0400009999|"))
    new = lines[1].replace("19990000010", "19990000101").replace("FICTIF-DUVALON", "NOUVEAU")
    return [*out, new]


def test_next_day_diff_is_exact_and_kept_in_history(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    run_import("rpps", RPPS)
    summary = run_import("rpps", write_rpps(tmp_path, next_day(rpps_lines())))
    assert (summary["added"], summary["updated"], summary["removed"]) == (1, 1, 1)
    assert summary["unchanged"] == 7
    with session_factory() as session:
        gone = session.get(Professional, "819990000044")
        assert gone is not None and not gone.active and gone.removed_at is not None
        # Last seen by the previous run, not by the one that found it gone.
        first_run = session.get(ImportRun, summary["run_id"] - 1)
        assert first_run is not None and gone.last_seen == first_run.finished_at
        changes = {
            (c.entity_key, c.change): c.field_list()
            for c in session.scalars(
                select(DirectoryChange).where(DirectoryChange.run_id == summary["run_id"])
            )
        }
    assert changes == {
        ("819990000010", "updated"): ["activities"],
        ("819990000044", "removed"): [],
        ("819990000101", "added"): [],
    }
    # Back the next day: counted as added again, and active.
    again = run_import("rpps", RPPS)
    assert again["added"] == 1 and again["removed"] == 1 and again["updated"] == 1
    with session_factory() as session:
        back = session.get(Professional, "819990000044")
        assert back is not None and back.active and back.removed_at is None


def test_field_names_of_a_person_change(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    run_import("rpps", RPPS)
    lines = [line.replace("|SPECIMEN|Noémie|", "|SPÉCIMEN-DURAND|Noémie|") for line in rpps_lines()]
    summary = run_import("rpps", write_rpps(tmp_path, lines))
    assert summary["updated"] == 1
    with session_factory() as session:
        change = session.scalars(
            select(DirectoryChange).where(DirectoryChange.change == "updated")
        ).one()
        assert change.field_list() == ["last_name", "last_name_norm"]
        person = session.get(Professional, "819990000036")
        assert person is not None and person.last_name_norm == "specimen durand"


def test_few_malformed_lines_are_reported_and_the_rest_imported(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    lines = [*rpps_lines(), "8|garbage"]
    summary = run_import("rpps", write_rpps(tmp_path, lines), max_bad_line_share=0.2)
    assert summary["bad_lines"] == 1 and summary["professionals"] == 9
    run = run_of(session_factory, summary["run_id"])
    assert run.warnings is not None and run.warnings[0].startswith("line 12:")


def test_too_many_malformed_lines_abort_and_change_nothing(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    run_import("rpps", RPPS)
    before = snapshot(session_factory)
    lines = [*next_day(rpps_lines()), "8|garbage", "also|bad"]
    with pytest.raises(ImportAborted, match="2 malformed line"):
        run_import("rpps", write_rpps(tmp_path, lines), max_bad_line_share=0.1)
    assert snapshot(session_factory) == before
    run = last_run(session_factory)
    assert run.outcome == "aborted" and "malformed" in (run.error or "")


def test_truncated_file_changes_nothing(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    run_import("rpps", RPPS)
    before = snapshot(session_factory)
    data = RPPS.read_bytes().replace(b"0400000001", b"0400000777")
    path = tmp_path / RPPS.name
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImportAborted, match="truncated"):
        run_import("rpps", path)
    assert snapshot(session_factory) == before


def test_file_losing_most_professionals_is_refused(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    run_import("rpps", RPPS)
    before = snapshot(session_factory)
    with pytest.raises(ImportAborted, match="would remove 7 of 9"):
        run_import("rpps", write_rpps(tmp_path, rpps_lines()[:4]))
    assert snapshot(session_factory) == before


def test_corrupted_file_changes_nothing(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    run_import("rpps", RPPS)
    before = snapshot(session_factory)
    path = tmp_path / RPPS.name
    path.write_bytes(RPPS.read_bytes().replace(b"Villeurbanne", b"Villeurb\xff\xfeanne"))
    with pytest.raises(ImportFileError, match="line 9: not valid UTF-8"):
        run_import("rpps", path)
    assert snapshot(session_factory) == before
    assert last_run(session_factory).outcome == "failed"


def test_zip_with_savoir_faire_and_diplomas(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    archive = tmp_path / "PS_LibreAcces_202605040000.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for item in RPPS.parent.iterdir():
            out.write(item, item.name)
    summary = run_import("rpps", archive)
    assert (summary["professionals"], summary["skills"], summary["diplomas"]) == (9, 4, 4)
    with session_factory() as session:
        skills = session.scalars(
            select(ProfessionalSkill.skill_code).where(ProfessionalSkill.idnps == "819990000010")
        ).all()
        assert sorted(skills) == ["CAP17", "SM54"]
        assert session.scalar(select(func.count()).select_from(ProfessionalDiploma)) == 4


def test_companion_files_beside_the_main_file(run_import: Importer, tmp_path: Path) -> None:
    summary = run_import("rpps", copy_rpps_with_companions(tmp_path))
    assert summary["skills"] == 4 and summary["diplomas"] == 4


def test_rows_of_one_professional_apart_are_merged(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    lines = rpps_lines()
    # Second activity of 819990000028 moved to the end of the file.
    moved = [lines[0], lines[1], lines[2], *lines[4:], lines[3]]
    summary = run_import("rpps", write_rpps(tmp_path, moved))
    assert summary["professionals"] == 9 and summary["added"] == 9
    with session_factory() as session:
        cardio = session.get(Professional, "819990000028")
        assert cardio is not None and len(cardio.activities) == 2
    again = run_import("rpps", RPPS)
    assert again["unchanged"] == 9 and again["updated"] == 0


def test_luhn_failure_is_kept_with_the_record(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    lines = [line.replace("19990000093", "19990000094") for line in rpps_lines()]
    summary = run_import("rpps", write_rpps(tmp_path, lines))
    assert summary["added"] == 9 and summary["warnings"] == 1
    with session_factory() as session:
        person = session.get(Professional, "819990000094")
        assert person is not None and person.warnings is not None
        assert "Luhn" in person.warnings[0]


def test_refused_first_load_leaves_an_empty_directory_with_its_indexes(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    lines = [*rpps_lines(), "8|garbage", "also|bad"]
    with pytest.raises(ImportAborted):
        run_import("rpps", write_rpps(tmp_path, lines), max_bad_line_share=0.1)
    assert snapshot(session_factory)["professionals"] == []
    engine = session_factory.kw["bind"]
    indexes = {ix["name"] for ix in inspect(engine).get_indexes("dir_activities")}
    assert "ix_dir_activities_finess_site" in indexes
