"""The RPPS+ Personne_activite parser: header names, grouping, encodings, malformed lines."""

from __future__ import annotations

import io

import pytest

from referentials.directory.errors import ImportAborted, ImportFileError
from referentials.directory.models import ACTIVITY_DETAILS, ACTIVITY_SEARCHED, Activity
from referentials.directory.parsers import common
from referentials.directory.parsers.common import Entity, ParseReport, fold, luhn_ok
from referentials.directory.parsers.rpps import (
    ACTIVITY_COLUMNS,
    ACTIVITY_FIELDS,
    parse_personne_activite,
    person_warnings,
)
from tests.referentials.directory.conftest import RPPS, rpps_lines


def parse(data: bytes) -> tuple[list[Entity], ParseReport]:
    """Entities split into fields (as they are when stored)."""
    report = ParseReport()
    raw = list(parse_personne_activite(io.BytesIO(data), name="f.txt", report=report))
    return [e.materialise() for e in raw], report


def digests(data: bytes) -> list[bytes]:
    """Digests of the professionals' lines, as the diff compares them."""
    report = ParseReport()
    return [e.digest for e in parse_personne_activite(io.BytesIO(data), name="f", report=report)]


def activity(child: tuple[str | None, ...]) -> dict[str, str | None]:
    """A parsed activity row as the stored activity reads it back."""
    return Activity(**dict(zip(("idnps", *ACTIVITY_FIELDS), child, strict=True))).fields()


def test_every_activity_column_is_stored_once() -> None:
    assert sorted(ACTIVITY_COLUMNS) == sorted((*ACTIVITY_SEARCHED, *ACTIVITY_DETAILS))


def fixture_bytes() -> bytes:
    return RPPS.read_bytes()


def test_groups_rows_by_professional_and_reads_by_header_name() -> None:
    entities, report = parse(fixture_bytes())
    assert report.rows == 10 and report.bad_lines == 0
    assert len(entities) == 9
    cardio = next(e for e in entities if e.key == "819990000028")
    assert len(cardio.children) == 2
    first = activity(cardio.children[0])
    assert first["finess_site"] == "690999016" and first["finess_ej"] == "690999008"
    assert first["skill_code"] == "SM04" and first["mode_code"] == "S"
    aide = next(e for e in entities if e.key == "819990000085")
    assert activity(aide.children[0])["role_code"] == "313"


def test_older_52_column_header_works() -> None:
    lines = ["|".join(line.split("|")[:52]) + "|" for line in rpps_lines()]
    entities, report = parse(("\n".join(lines) + "\n").encode())
    assert len(entities) == 9 and report.bad_lines == 0
    row = activity(entities[0].children[0])
    assert row["role_code"] is None and row["sector_code"] == "SA07"


def test_trailing_separator_is_optional_and_crlf_is_read() -> None:
    lines = [line.removesuffix("|") for line in rpps_lines()]
    assert digests(("\r\n".join(lines) + "\r\n").encode()) == digests(fixture_bytes())


def test_bom_is_dropped() -> None:
    entities, report = parse(b"\xef\xbb\xbf" + fixture_bytes())
    assert len(entities) == 9 and report.bad_lines == 0


def test_missing_required_column_is_named() -> None:
    lines = rpps_lines()
    lines[0] = lines[0].replace("Identification nationale PP", "Identifiant national")
    with pytest.raises(ImportFileError, match=r"missing required column.*Identification nationale"):
        parse(("\n".join(lines) + "\n").encode())


def test_bad_utf8_names_the_line() -> None:
    data = fixture_bytes().replace("Noémie".encode(), b"No\xe9mie")
    with pytest.raises(ImportFileError, match=r"line 5: not valid UTF-8"):
        parse(data)


def test_malformed_line_is_reported_with_its_number() -> None:
    lines = rpps_lines()
    lines[3] = "8|1999|broken"
    entities, report = parse(("\n".join(lines) + "\n").encode())
    assert report.bad_lines == 1 and report.problems[0].startswith("line 4:")
    assert len(entities) == 9  # line 4 was the second activity of a professional


def test_file_cut_in_the_middle_of_a_line_is_refused() -> None:
    data = fixture_bytes()
    with pytest.raises(ImportAborted, match="ends in the middle of a line"):
        parse(data[: len(data) - 200])


def test_blocks_boundaries_do_not_lose_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    reference = digests(fixture_bytes())
    monkeypatch.setattr(common.Lines, "BLOCK", 97)
    small, report = parse(fixture_bytes())
    assert report.bad_lines == 0 and len(small) == 9
    assert digests(fixture_bytes()) == reference


def test_luhn_failure_is_a_warning_not_a_rejection() -> None:
    assert luhn_ok("19990000010") and luhn_ok("699199907") and not luhn_ok("19990000011")
    person = ("819990000011", "8", "19990000011", "", "", "X", "Y")
    assert "fails the Luhn check" in person_warnings(person)[0]
    assert person_warnings(("819990000010", "8", "19990000010", "", "", "X", "Y")) == []


def test_names_are_folded_for_search() -> None:
    assert fold("Éloïse  D'AUBIGNÉ") == "eloise d aubigne"
    assert fold("FICTIF-DUVALON") == "fictif duvalon"
