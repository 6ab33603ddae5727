"""The elected leader: a start that fails steps down and is tried again, the thread lives on."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import Engine

from referentials.core.leader import Election


def test_a_leader_whose_start_fails_steps_down_and_tries_again(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def elected() -> None:
        calls.append("elected")
        if calls.count("elected") == 1:
            raise RuntimeError("the jobs could not be added")

    election = Election(
        engine, "flaky", on_elected=elected, on_deposed=lambda: calls.append("deposed"),
        lease_seconds=0.3,
    )  # fmt: skip
    with caplog.at_level(logging.ERROR, logger="socle.leader"):
        election.start()
        deadline = time.monotonic() + 5
        while not election.leading and time.monotonic() < deadline:
            time.sleep(0.02)
        election.stop()
    # The failed start was undone, the lead given back, and the next round led.
    assert calls[:3] == ["elected", "deposed", "elected"], calls
    assert calls[-1] == "deposed"
    assert election.thread.is_alive() is False
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "could not start leading flaky" in failure.getMessage() and failure.exc_info
