"""`socle mllp --workers N`: worker processes apply the messages (referentials/mllp_workers.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from identity.hl7v2.mllp import MllpServer, WorkerLost, frame
from referentials.core.auth import create_api_key
from referentials.core.db import session_scope
from referentials.core.settings import Hl7Settings, Settings
from referentials.mllp_workers import NotStarted, Workers
from tests.conftest import free_port
from tests.identity.test_hl7v2 import count, sample
from tests.identity.test_hl7v2_mllp import msa, receive
from tests.referentials.test_workers import _wait_for, _worker_pids

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def chfm_env(session_factory: sessionmaker[Session], db_settings: Settings) -> dict[str, str]:
    """What a worker process reads its settings from: the database, CHFM's facility mapped."""
    with session_scope(session_factory) as session:
        key, _ = create_api_key(
            session, client_name="CHFM engine", scopes=["identity:write"], finess="690999016"
        )
        key_id = key.id
    return {
        "SOCLE_DATABASE_URL": db_settings.database_url,
        "SOCLE_DATABASE_SCHEMA": db_settings.database_schema,
        "SOCLE_LOAD_DEMO_DATA": "false",
        "SOCLE_HL7__FACILITY_KEYS": json.dumps({"CHFM": key_id}),
    }


def a28(n: int) -> bytes:
    """An A28 creating a person of its own under a local id of its own."""
    name = "".join(chr(65 + int(d)) for d in str(n))
    return sample("a28_create.hl7", **{"IPP-1001": f"IPP-8{n}", "ADRUN^": f"ADRUN{name}^"})


def send_all(port: int, messages: list[bytes]) -> list[str]:
    """Send on one connection, each message once the previous one's ACK is in: the ACK codes."""
    codes = []
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for message in messages:
            sock.sendall(frame(message))
            answer = msa(receive(sock))
            # The ACK's text too when it is not AA: what went wrong.
            codes.append(answer[1] if answer[1] == "AA" else "|".join(answer))
    return codes


def _workers_of(listener: int) -> set[int]:
    """The listener's worker processes (not the resource tracker that spawning starts)."""
    found = set()
    for pid in _worker_pids(listener):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
        except FileNotFoundError:
            continue
    return found


def _alive(pid: int) -> bool:
    """Whether the process still runs: a killed one is dead once it is a zombie whose threads
    have all ended (until then, waitpid does not report it, and its parent sees it alive)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        return state != "Z" or len(os.listdir(f"/proc/{pid}/task")) > 1
    except FileNotFoundError:
        return False


@pytest.fixture()
def listener(chfm_env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = {**os.environ, **chfm_env}
    env.pop("SOCLE_TEST_DATABASE_URL", None)
    command = [sys.executable, "-m", "referentials.cli", "mllp", "--workers", "2"]
    log = open(os.environ.get("MLLP_TEST_LOG", os.devnull), "ab")  # noqa: SIM115
    process = subprocess.Popen([*command, "--port", str(port)], cwd=ROOT, env=env, stderr=log)

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    try:
        assert _wait_for(listening, 60), "`socle mllp` did not listen"
        yield process, port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)


def test_messages_from_many_connections_are_applied_by_the_workers_and_none_is_lost(
    listener: tuple[subprocess.Popen[bytes], int], session_factory: sessionmaker[Session]
) -> None:
    process, port = listener
    workers = _workers_of(process.pid)
    assert len(workers) == 2, "two worker processes, started before the listener listens"
    batches = [[a28(10 * c + i) for i in range(3)] for c in range(4)]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda batch: send_all(port, batch), batches))
    assert answers == [["AA"] * 3] * 4 and count(session_factory) == 12
    # Workers that died while idle are replaced before a message is sent to them.
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    assert _wait_for(lambda: not any(_alive(pid) for pid in workers), 10)
    assert send_all(port, [a28(50 + i) for i in range(3)]) == ["AA"] * 3
    with ThreadPoolExecutor(2) as pool:
        again = list(pool.map(lambda c: send_all(port, [a28(60 + c), a28(70 + c)]), range(2)))
    assert again == [["AA"] * 2] * 2 and count(session_factory) == 19
    replaced = _workers_of(process.pid)
    assert len(replaced) == 2 and not replaced & workers
    # Stopped as systemd stops it: the socket closed, the workers stopped, a clean exit.
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not any(_alive(pid) for pid in replaced), "a worker outlived its listener"


@pytest.fixture()
def worker_env(chfm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Worker processes started by this one read their settings from its environment."""
    for name, value in chfm_env.items():
        monkeypatch.setenv(name, value)
    return chfm_env


def _in_process(
    session_factory: sessionmaker[Session], env: dict[str, str], workers: Workers
) -> MllpServer:
    """A listener in this process that hands its messages to ``workers``."""
    settings = Hl7Settings(facility_keys=json.loads(env["SOCLE_HL7__FACILITY_KEYS"]))
    return MllpServer(session_factory, settings, host="127.0.0.1", port=0, workers=workers)


def test_a_worker_that_dies_with_a_message_is_replaced_and_the_sender_told_to_resend(
    worker_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
) -> None:
    workers = Workers(2)
    server = _in_process(session_factory, worker_env, workers)
    pids: list[int] = []
    try:
        assert msa(server.answer(a28(1)))[1] == "AA"
        taken = Workers._take

        def dying(self: Workers) -> object:
            # The worker is killed right after the message is sent to it, before its answer.
            worker = taken(self)
            conn = worker.conn

            class Dying:
                def send(self, message: object) -> None:
                    conn.send(message)
                    os.kill(worker.process.pid, signal.SIGKILL)
                    worker.process.join(10)

                def recv(self) -> object:
                    return conn.recv()

                def close(self) -> None:
                    conn.close()

            worker.conn = Dying()  # type: ignore[assignment]
            return worker

        monkeypatch.setattr(Workers, "_take", dying)
        with pytest.raises(WorkerLost):
            workers.answer(a28(2), None)
        told = msa(server.answer(a28(3)))
        assert told[1] == "AE" and told[3] == "not stored, resend later"
        monkeypatch.setattr(Workers, "_take", taken)
        assert [msa(server.answer(a28(n)))[1] for n in (2, 3, 4)] == ["AA"] * 3
        assert count(session_factory) == 4
        pids = [w.process.pid for w in workers._all]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    finally:
        server.server_close()
    assert not any(_alive(pid) for pid in pids), "a worker outlived server_close"


def test_a_worker_that_cannot_start_is_tried_again_and_no_message_is_lost(
    worker_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
) -> None:
    # A worker process reads its settings when it starts: these it cannot start with.
    monkeypatch.setenv("SOCLE_HL7__MLLP_PORT", "not-a-port")
    with pytest.raises(NotStarted, match="ended before it was ready"):
        Workers(1)
    monkeypatch.delenv("SOCLE_HL7__MLLP_PORT")
    workers = Workers(1)
    server = _in_process(session_factory, worker_env, workers)
    try:
        (first,) = workers._all
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.join(10)
        monkeypatch.setenv("SOCLE_HL7__MLLP_PORT", "not-a-port")
        # No worker can take its place: the sender is told to send the message again later.
        for n in (1, 2):
            told = msa(server.answer(a28(n)))
            assert told[1] == "AE" and told[3] == "not stored, resend later"
        assert count(session_factory) == 0
        monkeypatch.delenv("SOCLE_HL7__MLLP_PORT")
        # Once a worker can start again, one does at the next message, and it is applied.
        assert [msa(server.answer(a28(n)))[1] for n in (1, 2)] == ["AA", "AA"]
        assert count(session_factory) == 2
        (replaced,) = workers._all
        assert replaced is not first and _alive(replaced.process.pid)
    finally:
        server.server_close()


def test_a_freed_worker_goes_to_the_connection_that_waited_longest(
    worker_env: dict[str, str],
) -> None:
    workers = Workers(1)
    try:
        held = workers._take()
        served: list[int] = []

        def connection(n: int) -> None:
            worker = workers._take()
            served.append(n)
            workers._give(worker)

        threads = []
        for n in range(6):
            thread = threading.Thread(target=connection, args=(n,))
            thread.start()
            threads.append(thread)
            # Each waits before the next arrives: their order of arrival is 0, 1, 2...
            assert _wait_for(lambda n=n: len(workers._waiting) == n + 1, 10)
        workers._give(held)
        for thread in threads:
            thread.join(10)
        assert served == list(range(6)), "a later connection got the worker first"
        assert workers._idle == [held] and not workers._waiting
    finally:
        workers.close()
