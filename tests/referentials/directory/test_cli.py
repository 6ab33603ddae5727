"""`socle import rpps|finess` as an operator runs it, and an import killed mid-way."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from referentials.cli import app
from referentials.core.runs import ImportRun
from referentials.core.settings import Settings, get_settings
from referentials.directory.models import Professional
from tests.referentials.directory.conftest import (
    FINESS_JSON,
    RPPS,
    Importer,
    cli_env,
    many_professionals,
)

SOCLE = [sys.executable, "-m", "referentials.cli"]


@pytest.fixture()
def cli(
    db_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[CliRunner]:
    """The `socle` command in this process, on the test database (quicker than a process)."""
    for name, value in cli_env(db_settings).items():
        if name.startswith("SOCLE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.mark.usefixtures("session_factory")
def test_import_commands_print_one_json_summary(cli: CliRunner) -> None:
    for source, path, noun, count in (
        ("rpps", RPPS, "professionals", 9),
        ("finess", FINESS_JSON, "structures", 12),
    ):
        result = cli.invoke(app, ["import", source, str(path), "--json"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        for key in ("rows", "added", "updated", "removed", "unchanged", "warnings", "seconds"):
            assert key in summary
        assert summary[noun] == count


@pytest.mark.usefixtures("session_factory")
def test_import_command_reports_a_bad_file(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "PS_LibreAcces_Personne_activite_x.txt"
    bad.write_text("Nom|Prénom\nA|B\n", encoding="utf-8")
    result = cli.invoke(app, ["import", "rpps", str(bad), "--json"])
    assert result.exit_code == 2
    assert "missing required column" in result.stderr
    assert "Identification nationale PP" in result.stderr


def count_professionals(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Professional)) or 0)


def test_killed_import_leaves_the_directory_unchanged(
    db_settings: Settings,
    run_import: Importer,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    run_import("rpps", RPPS)
    # Large enough that the kill lands while the run works: 60,000 lines reached the end of
    # the run (refused: it would remove the 9 stored entries) about a second after it started
    # on a fast machine, too close to the wait below; 150,000 take 1.5 s there.
    big = many_professionals(tmp_path / "big", 150_000)
    process = subprocess.Popen(
        [*SOCLE, "import", "rpps", str(big)],
        env=cli_env(db_settings),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with session_factory() as session:
            running = session.scalar(select(ImportRun).where(ImportRun.outcome == "running"))
        if running is not None:
            break
        time.sleep(0.05)
    time.sleep(0.25)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert running is not None
    assert count_professionals(session_factory) == 9
    # The next run takes over the dead process's lock and marks its run interrupted.
    assert run_import("rpps", RPPS)["unchanged"] == 9
    with session_factory() as session:
        killed = session.get(ImportRun, running.id)
        assert killed is not None and killed.outcome == "interrupted"
