"""The `socle` command: API keys and users, against a real database file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from referentials.core.auth import ApiKey, authenticate, hash_key
from referentials.core.db import make_engine, make_session_factory, session_scope
from referentials.core.settings import Settings
from tests.cli import socle
from tests.conftest import ROOT, ThreadedServer, free_port


def test_apikey_create_prints_the_key_once_and_stores_its_hash(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = socle(
        url,
        "apikey",
        "create",
        "--name",
        "DPI Hôpital",
        "--scopes",
        "identity:read,identity:write",
        "--finess",
        "690999016",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    factory = make_session_factory(make_engine(url))
    with session_scope(factory) as session:
        stored = session.scalar(select(ApiKey).where(ApiKey.id == printed["id"]))
        assert stored is not None
        assert stored.key_hash == hash_key(printed["key"]) and printed["key"] not in stored.key_hash
        principal = authenticate(session, printed["key"])
    assert principal.finess == "690999016"
    assert principal.scopes == {"identity:read", "identity:write"}


def test_apikey_create_refuses_an_unknown_scope(tmp_path: Path) -> None:
    result = socle(
        f"sqlite:///{tmp_path / 'cli.db'}",
        "apikey",
        "create",
        "--name",
        "x",
        "--scopes",
        "identity:read,everything",
    )
    assert result.returncode == 2 and "everything" in result.stderr


def test_user_create_with_password_from_environment(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    ok = socle(
        url,
        "user",
        "create",
        "agent1",
        "--roles",
        "officer",
        env={"SOCLE_NEW_USER_PASSWORD": "correct horse battery"},
    )
    assert ok.returncode == 0, ok.stderr
    short = socle(url, "user", "create", "agent2", env={"SOCLE_NEW_USER_PASSWORD": "short"})
    assert short.returncode == 2 and "10 characters" in short.stderr


@pytest.mark.parametrize("secret", ["sk_bootstrap_for_tests"])
def test_bootstrap_key_exists_with_every_scope(tmp_path: Path, secret: str) -> None:
    from referentials.app import create_app

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'boot.db'}",
        bootstrap_api_key=secret,
        load_demo_data=True,
        fixtures_dir=ROOT / "fixtures",
    )
    with ThreadedServer(create_app(settings)) as server:
        headers = {"Authorization": f"Bearer {secret}"}
        found = httpx.get(
            f"{server.url}/api/v1/identities", params={"birth_name": "dupont"}, headers=headers
        )
        assert found.status_code == 200 and found.json()["total"] == 1
        assert httpx.get(f"{server.url}/api/v1/events", headers=headers).status_code == 200


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.parametrize(("level", "lines"), [("INFO", 2), ("WARNING", 0)])
def test_mock_insi_writes_its_access_log_at_the_configured_level(level: str, lines: int) -> None:
    """SOCLE_LOG_LEVEL governs the mock's access log as it does `serve`'s (one INFO line a call)."""
    port = free_port()
    env = {**os.environ, "SOCLE_LOG_LEVEL": level}
    command = [sys.executable, "-m", "referentials.cli", "mock-insi", "--port", str(port)]
    mock = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert mock.poll() is None and time.monotonic() < deadline, "the mock did not start"
            time.sleep(0.2)
        for _ in range(2):
            assert httpx.get(f"http://127.0.0.1:{port}/?wsdl", timeout=10).status_code == 200
    finally:
        mock.send_signal(signal.SIGINT)
        out, _ = mock.communicate(timeout=20)
    assert out.count('"GET /?wsdl HTTP/1.1" 200') == lines, out


@pytest.mark.parametrize("command", [["apikey", "list"], ["serve", "--workers", "2"], ["mllp"]])
def test_settings_that_cannot_be_read_are_named_as_written_and_stop_the_command(
    tmp_path: Path, command: list[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    wrong = {
        "SOCLE_HL7__MLLP_PORT": "twenty-five-75",
        "SOCLE_DATABASE_MAX_CONNECTIONS": "hunter2",  # the values are never repeated
        "SOCLE_HL7__AUTHORITIES": '{"1.2.250.1.999.1.1": "69099901"}',
    }
    done = socle(url, *command, env=wrong)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "error: the settings cannot be read (environment or .env):"
    assert sorted(line.split(":")[0].strip() for line in lines[1:]) == sorted(wrong)
    assert "'1.2.250.1.999.1.1' maps to '69099901', which is not a FINESS number" in lines[3]
    assert "hunter2" not in done.stderr and "twenty-five" not in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "cli.db").exists()
    # A value that is not JSON where a mapping is expected.
    undecoded = socle(url, *command, env={"SOCLE_HL7__AUTHORITIES": "CHFM=690999016"})
    assert undecoded.returncode == 2 and "Traceback" not in undecoded.stderr
    assert "SOCLE_HL7 (or a SOCLE_HL7__* variable): cannot be decoded" in undecoded.stderr


def test_a_wrong_cron_or_time_zone_stops_the_scheduler_before_it_starts(tmp_path: Path) -> None:
    # Read only when the jobs were added, a wrong expression used to stop the scheduler's
    # thread while the process went on, and no import ran again.
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    wrong = {
        "SOCLE_SCHEDULER__RPPS_CRON": "30 3 * *",
        "SOCLE_AUDIT__PURGE_CRON": "75 2 * * *",
        "SOCLE_SCHEDULER__TIMEZONE": "Europe/Pari",
    }
    done = socle(url, "scheduler", env=wrong)
    assert done.returncode == 2, done.stderr
    said = dict(line.strip().split(": ", 1) for line in done.stderr.splitlines()[1:])
    assert said.keys() == wrong.keys()
    assert "Wrong number of fields; got 4, expected 5" in said["SOCLE_SCHEDULER__RPPS_CRON"]
    assert "higher than the maximum value (59)" in said["SOCLE_AUDIT__PURGE_CRON"]
    assert "not a time zone" in said["SOCLE_SCHEDULER__TIMEZONE"]
    # An empty expression turns a job off.
    assert socle(url, "apikey", "list", env={"SOCLE_SCHEDULER__RPPS_CRON": ""}).returncode == 0


@pytest.mark.parametrize("command", [["apikey", "list"], ["serve", "--workers", "2"], ["mllp"]])
def test_a_database_that_cannot_be_opened_is_said_in_one_line(
    tmp_path: Path, command: list[str]
) -> None:
    closed = free_port()  # nothing listens there
    cases = {
        f"postgresql+psycopg://socle:s3cret@127.0.0.1:{closed}/socle": (
            f"error: the database postgresql+psycopg://socle:***@127.0.0.1:{closed}/socle "
            "cannot be reached: connection failed:"
        ),
        f"sqlite:///{tmp_path / 'a-file' / 'socle.db'}": "cannot be reached: [Errno 17] File",
        "mysql://socle@db/socle": "error: SOCLE_DATABASE_URL mysql://socle@db/socle is not a "
        "database Socle can open (sqlite:///<path> or postgresql+psycopg://",
    }
    (tmp_path / "a-file").write_text("a file where the folder should be")
    for url, said in cases.items():
        done = socle(url, *command)
        err = " ".join(done.stderr.split())
        assert done.returncode == 1 and said in err, (url, err)
        assert "Traceback" not in err and "s3cret" not in err and len(done.stderr) < 600
