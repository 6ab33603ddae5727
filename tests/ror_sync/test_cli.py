"""`socle import ror` and `socle ror completeness` on a database file (in-process runner:
the command-line parsing, settings and output are the real ones)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from referentials.cli import app
from referentials.core.settings import get_settings
from tests.ror_sync import rules_fixture as rf


def _socle(db_url: str, *args: str) -> Result:
    env = {"SOCLE_DATABASE_URL": db_url, "SOCLE_DATABASE_SCHEMA": "", "COLUMNS": "200"}
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'ror.db'}"
    finess = _socle(
        url,
        "import",
        "finess",
        str(rf.FINESS_STRUCTURES),
        "--activities",
        str(rf.FINESS_ACTIVITIES),
        "--json",
    )
    assert finess.exit_code == 0, finess.output
    yield url


def test_import_ror_prints_its_json_summary(database: str) -> None:
    result = _socle(database, "import", "ror", str(rf.FIXTURE), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["rejected"] == 0 and summary["offers"]["created"] == 31
    assert summary["run_id"] and summary["snapshot_id"]


def test_import_ror_names_a_missing_file(database: str, tmp_path: Path) -> None:
    result = _socle(database, "import", "ror", str(tmp_path / "nothing.json"))
    # Rich wraps long lines: compare with the whitespace folded.
    assert result.exit_code == 2
    assert "nothing.json: no such file or folder" in " ".join(result.output.split())


def test_completeness_json_csv_and_table(database: str) -> None:
    as_json = _socle(database, "ror", "completeness", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    sectors = {s["sector"]: s for s in json.loads(as_json.stdout)["sectors"]}
    assert list(sectors) == ["sanitaire", "medico_social", "social", "coordination", "ville"]
    assert {
        k: sectors["sanitaire"][k]
        for k in ("perimeter", "finalised", "in_progress", "to_do", "rate", "target")
    } == {
        "perimeter": 10,
        "finalised": 3,
        "in_progress": 5,
        "to_do": 2,
        "rate": 0.3,
        "target": 0.95,
    }
    as_csv = _socle(database, "ror", "completeness", "--region", "11", "--format", "csv")
    lines = as_csv.stdout.splitlines()
    assert lines[0].startswith("sector;perimeter;finalised")
    assert lines[1] == "sanitaire;1;0;1;0;0.0;0.95;1"
    table = _socle(database, "ror", "completeness")
    assert "Médico-social" in table.stdout and "95 %" in table.stdout
