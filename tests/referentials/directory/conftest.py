"""Directory test helpers: the shipped extracts, variants of them, and an import runner."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.settings import DirectorySettings, Settings
from referentials.directory import imports

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "directory"
RPPS_DIR = FIXTURES / "rpps"
RPPS = RPPS_DIR / "PS_LibreAcces_Personne_activite_202605040000.txt"
FINESS_JSON = FIXTURES / "finess" / "finess-structures-journalier-20260504.json"
FINESS_ACTIVITIES = FIXTURES / "finess" / "finess-activites-journalier-20260504.json"
ETALAB = FIXTURES / "etalab" / "etalab-cs1100507-stock-20260504-0336.csv"

Importer = Callable[..., dict[str, Any]]


def rpps_lines() -> list[str]:
    return RPPS.read_text("utf-8").splitlines()


def write_rpps(folder: Path, lines: list[str], name: str = RPPS.name) -> Path:
    """A Personne_activite file made of ``lines`` (no companion files beside it)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def copy_rpps_with_companions(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for item in RPPS_DIR.iterdir():
        shutil.copy(item, folder / item.name)
    return folder / RPPS.name


@pytest.fixture()
def run_import(engine: Engine, session_factory: sessionmaker[Session]) -> Importer:
    """Import a file into the clean test database, as the CLI would."""

    def run(
        source: str, path: Path | str, activities: Path | None = None, **settings: Any
    ) -> dict[str, Any]:
        # The shipped FINESS+ structures go with their activities file, as the feed does.
        if activities is None and Path(path) == FINESS_JSON:
            activities = FINESS_ACTIVITIES
        return imports.run(
            engine,
            session_factory,
            source=source,
            location=str(path),
            trigger="test",
            settings=DirectorySettings(**settings),
            activities=activities,
        )

    return run


def luhn_key(body: str) -> str:
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char) * (2 if i % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return str((10 - total % 10) % 10)


def many_professionals(folder: Path, count: int) -> Path:
    """A valid extract of ``count`` professionals built from the sample's first line."""
    header, template = rpps_lines()[:2]
    lines = [header]
    for n in range(count):
        body = f"2{n:09d}"
        number = body + luhn_key(body)
        lines.append(template.replace("19990000010", number))
    return write_rpps(folder, lines)


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a `socle` subprocess working on the test database."""
    return {
        **os.environ,
        "SOCLE_DATABASE_URL": settings.database_url,
        "SOCLE_DATABASE_SCHEMA": settings.database_schema,
        "SOCLE_SCHEDULER__ENABLED": "false",
        **extra,
    }
