"""The real `socle` command, run in a process of its own as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from referentials.core.settings import Settings
from tests.conftest import ROOT


def socle(
    database: str | Path | Settings,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """`socle <args>` against ``database``: a URL, a SQLite file, or the test database's settings
    (URL and schema); ``env`` adds or overrides variables."""
    if isinstance(database, Settings):
        url, schema = database.database_url, database.database_schema
    else:
        url = f"sqlite:///{database}" if isinstance(database, Path) else database
        schema = ""
    full_env = {**os.environ, "SOCLE_DATABASE_URL": url, "SOCLE_DATABASE_SCHEMA": schema}
    full_env.pop("SOCLE_TEST_DATABASE_URL", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "referentials.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=ROOT,
        timeout=timeout,
    )
