"""Bad directory files and a killed import leave the directory as it was; the next run works."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from referentials.core import runs
from referentials.core.errors import AppError
from referentials.core.settings import Settings
from referentials.directory import imports
from tests.conftest import FIXTURES, ROOT

SAMPLE = FIXTURES / "directory/rpps/PS_LibreAcces_Personne_activite_202605040000.txt"
NAME = SAMPLE.name


def directory_state(engine: Engine) -> tuple[list[Any], list[Any]]:
    """Every stored professional and activity, in a stable order."""
    with engine.connect() as conn:
        people = conn.execute(text("SELECT * FROM dir_professionals ORDER BY idnps")).all()
        acts = conn.execute(text("SELECT * FROM dir_activities ORDER BY 1")).all()
    return [tuple(r) for r in people], [tuple(r) for r in acts]


def run_rpps(engine: Engine, factory: sessionmaker[Session], path: Path, settings: Settings) -> Any:
    return imports.run(
        engine, factory, source="rpps", location=str(path), trigger="cli",
        settings=settings.directory,
    )  # fmt: skip


@pytest.fixture()
def loaded(
    engine: Engine, session_factory: sessionmaker[Session], db_settings: Settings
) -> tuple[list[Any], list[Any]]:
    """The sample imported: the state every failed run must leave untouched."""
    summary = run_rpps(engine, session_factory, SAMPLE, db_settings)
    assert summary["added"] >= 9
    return directory_state(engine)


def _truncated(data: bytes) -> bytes:
    return data[: int(len(data) * 0.4)]


def _utf16(data: bytes) -> bytes:
    return data.decode("utf-8").encode("utf-16")


def _latin1(data: bytes) -> bytes:
    return data.decode("utf-8").encode("latin-1", "replace")


def _wrong_columns(data: bytes) -> bytes:
    lines = data.decode("utf-8").splitlines()
    return "\n".join(
        ["Nom|Prénom|Ville", *("|".join(ln.split("|")[:3]) for ln in lines[1:])]
    ).encode()


def _binary(_data: bytes) -> bytes:
    return os.urandom(6000)


BREAKERS: dict[str, Callable[[bytes], bytes]] = {
    "truncated": _truncated,
    "utf16": _utf16,
    "latin1": _latin1,
    "wrong_columns": _wrong_columns,
    "binary": _binary,
}


@pytest.mark.parametrize("kind", sorted(BREAKERS))
def test_bad_file_is_refused_and_changes_nothing(
    engine: Engine,
    session_factory: sessionmaker[Session],
    db_settings: Settings,
    loaded: tuple[list[Any], list[Any]],
    tmp_path: Path,
    kind: str,
) -> None:
    bad = tmp_path / NAME
    bad.write_bytes(BREAKERS[kind](SAMPLE.read_bytes()))
    with pytest.raises(AppError) as refused:
        run_rpps(engine, session_factory, bad, db_settings)
    assert refused.value.message
    assert directory_state(engine) == loaded
    with session_factory() as sess:
        last = sess.scalars(select(runs.ImportRun).order_by(runs.ImportRun.id.desc())).first()
        assert last is not None and last.outcome in (runs.ABORTED, runs.FAILED), kind
    # The lock was given back: the good file imports again, with nothing to change.
    again = run_rpps(engine, session_factory, SAMPLE, db_settings)
    assert again["added"] == again["updated"] == again["removed"] == 0


# Professionals of the synthetic extract: its import lasts well over the time before the kill.
BIG = 60_000


@pytest.fixture(scope="module")
def big_extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic extract large enough that an import takes seconds."""
    out = tmp_path_factory.mktemp("big")
    script = ROOT / "tests/benchmarks/directory_generate.py"
    subprocess.run(
        [sys.executable, str(script), str(out), "--professionals", str(BIG)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return out / "day1" / NAME


def _wait_for_running_run(factory: sessionmaker[Session], proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        with factory() as sess:
            run = sess.scalars(
                select(runs.ImportRun).where(runs.ImportRun.outcome == runs.RUNNING)
            ).first()
            if run is not None:
                return run.id
        time.sleep(0.05)
    raise AssertionError(f"the import never started (exit {proc.poll()})")


def test_import_killed_midway_changes_nothing_and_the_next_run_succeeds(
    engine: Engine,
    session_factory: sessionmaker[Session],
    db_settings: Settings,
    loaded: tuple[list[Any], list[Any]],
    big_extract: Path,
) -> None:
    env = {
        **os.environ,
        "SOCLE_DATABASE_URL": db_settings.database_url,
        "SOCLE_DATABASE_SCHEMA": db_settings.database_schema,
        # The extract replaces the sample whole: allowed here, the kill is what is tested.
        "SOCLE_DIRECTORY__MAX_REMOVED_SHARE": "1.0",
    }
    command = [sys.executable, "-m", "referentials.cli", "import", "rpps", str(big_extract)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed_run = _wait_for_running_run(session_factory, proc)
    time.sleep(0.5)
    assert proc.poll() is None, "the import ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert directory_state(engine) == loaded
    replacing = db_settings.directory.model_copy(update={"max_removed_share": 1.0})
    summary = run_rpps(
        engine,
        session_factory,
        big_extract,
        db_settings.model_copy(update={"directory": replacing}),
    )
    assert summary["added"] == BIG and summary["removed"] == 9
    with session_factory() as sess:
        killed = sess.get(runs.ImportRun, killed_run)
        assert killed is not None and killed.outcome == runs.INTERRUPTED
    with engine.connect() as conn:
        active = conn.execute(text("SELECT count(*) FROM dir_professionals WHERE active")).scalar()
    assert active == BIG


def _processes_reading(path: Path) -> list[int]:
    """Processes whose command line names ``path`` (the import and its parsing workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(path).encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_first_load_killed_while_workers_parse_leaves_nothing_behind(
    engine: Engine,
    session_factory: sessionmaker[Session],
    db_settings: Settings,
    big_extract: Path,
) -> None:
    in_workers = {"SOCLE_DIRECTORY__PARALLEL_MIN_BYTES": "0", "SOCLE_DIRECTORY__PARSE_WORKERS": "2"}
    env = {
        **os.environ,
        "SOCLE_DATABASE_URL": db_settings.database_url,
        "SOCLE_DATABASE_SCHEMA": db_settings.database_schema,
        **in_workers,
    }
    command = [sys.executable, "-m", "referentials.cli", "import", "rpps", str(big_extract)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for_running_run(session_factory, proc)
    time.sleep(0.3)
    assert proc.poll() is None, "the import ended before it could be killed"
    assert len(_processes_reading(big_extract)) == 3, "the load is not parsed in two workers"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert directory_state(engine) == ([], [])
    # The workers see that nobody reads what they send, and stop.
    deadline = time.monotonic() + 15
    while _processes_reading(big_extract) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_reading(big_extract) == []
    settings = db_settings.directory.model_copy(update={"parallel_min_bytes": 0})
    summary = run_rpps(
        engine, session_factory, big_extract, db_settings.model_copy(update={"directory": settings})
    )
    assert summary["added"] == BIG
