"""RPPS+ extraction variants: every published header name maps to the same field, and a column
nobody knows is reported once per import (never dropped silently)."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from referentials.core.runs import ImportRun
from referentials.directory.models import Professional
from referentials.directory.parsers.common import ParseReport
from referentials.directory.parsers.rpps import (
    READ_COLUMNS,
    SKILL_COLUMNS,
    parse_personne_activite,
    parse_simple,
    spans,
)
from referentials.directory.parsers.rpps_headers import HEADER_VARIANTS, KNOWN_UNREAD
from tests.referentials.directory.conftest import RPPS, RPPS_DIR, Importer, rpps_lines, write_rpps

VARIANT = RPPS_DIR.parent / "rpps_variants" / RPPS.name


def stored(factory: sessionmaker[Session]) -> dict[str, list[dict[str, str | None]]]:
    with factory() as session:
        return {
            p.idnps: [a.fields() for a in p.activities]
            for p in session.query(Professional).order_by(Professional.idnps)
        }


def run_warnings(factory: sessionmaker[Session], run_id: int) -> list[str]:
    with factory() as session:
        run = session.get(ImportRun, run_id)
        assert run is not None
        return list(run.warnings or [])


def test_variant_header_stores_the_same_fields(
    run_import: Importer, session_factory: sessionmaker[Session], engine: object, tmp_path: Path
) -> None:
    """Why: "Code département (coord. structure)" and kin were read as absent columns."""
    header = VARIANT.read_text("utf-8").splitlines()[0]
    assert "Code département (coord. structure)" in header and "Code fonction" in header
    standard = write_rpps(tmp_path / "standard", rpps_lines())
    run_import("rpps", standard)
    expected = stored(session_factory)
    summary = run_import("rpps", VARIANT)
    assert summary["unchanged"] == 9 and summary["updated"] == 0
    assert stored(session_factory) == expected
    aide = expected["819990000085"][0]
    assert aide["department_code"] and aide["role_code"] == "313" and aide["genre_code"]
    assert run_warnings(session_factory, summary["run_id"]) == []


def test_unknown_column_is_reported_once_per_import(
    run_import: Importer, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Why: a value under an unknown header was lost without a warning."""
    lines = rpps_lines()
    lines = [lines[0] + "Numéro RPPS+ gestionnaire|"] + [line + "G-0001|" for line in lines[1:]]
    summary = run_import("rpps", write_rpps(tmp_path, lines))
    assert summary["professionals"] == 9 and summary["bad_lines"] == 0
    warnings = run_warnings(session_factory, summary["run_id"])
    assert len(warnings) == 1 and summary["warnings"] == 1
    assert "'Numéro RPPS+ gestionnaire'" in warnings[0] and "not read" in warnings[0]
    assert warnings[0].startswith(RPPS.name)


def test_unknown_column_is_reported_once_when_parsed_in_parts(tmp_path: Path) -> None:
    lines = rpps_lines()
    lines = [lines[0] + "Colonne nouvelle|"] + [line + "x|" for line in lines[1:]]
    path = write_rpps(tmp_path, lines * 1)
    total = []
    parts = spans(path, 3)
    assert len(parts) > 1
    for span in parts:
        report = ParseReport()
        with path.open("rb") as stream:
            list(parse_personne_activite(stream, name=path.name, report=report, span=span))
        total.extend(report.warnings)
    assert len(total) == 1 and "'Colonne nouvelle'" in total[0]


def test_companion_file_reports_unknown_columns_and_reads_variants() -> None:
    skills = (RPPS_DIR / "PS_LibreAcces_SavoirFaire_202605040000.txt").read_text("utf-8")
    header, *rest = skills.splitlines()
    header = header.replace("Nom d'exercice", "Nom exercice") + "Inconnue|"
    data = "\n".join([header, *(line + "v|" for line in rest)]) + "\n"
    report = ParseReport()
    rows = list(parse_simple(io.BytesIO(data.encode()), SKILL_COLUMNS, name="sf", report=report))
    assert rows and report.bad_lines == 0
    assert report.warnings == [
        "sf: column(s) not known to Socle, their values are not read: 'Inconnue'"
    ]


def test_the_variant_table_names_columns_socle_knows() -> None:
    # A variant of a column nobody reads or lists would be a typo in the table.
    for ours in HEADER_VARIANTS:
        assert ours in READ_COLUMNS or ours in KNOWN_UNREAD, ours
