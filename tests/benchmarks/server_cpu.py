"""CPU time (user + system) of a process and its descendants, read from /proc (Linux)."""

from __future__ import annotations

import os
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (the workers of `socle serve` and their helpers)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except OSError:  # the task ended meanwhile
                continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """Summed CPU seconds of these processes (those that ended count no more)."""
    ticks = 0
    for pid in pids:
        try:
            # The fields after the command name, which may itself hold spaces or parentheses.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")
