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


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """CPU seconds of each of these processes that is still running."""
    found = {}
    for pid in pids:
        spent = cpu_seconds([pid])
        if Path(f"/proc/{pid}").exists():
            found[pid] = spent
    return found


def spent_since(before: dict[int, float], now: dict[int, float]) -> float:
    """CPU spent between two readings by the processes alive at the second one.

    A process that ended meanwhile takes its time with it (its time is lost, not negative);
    one that started meanwhile counts whole.
    """
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in now.items())


def named(command: str) -> list[int]:
    """Every process whose command name is ``command`` (PostgreSQL's server processes)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() == command:
                found.append(int(stat.parent.name))
        except OSError:
            continue
    return found


def machine_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine spent busy and idle (all cores), from /proc/stat.

    Busy counts every process, ours and others' (niced ones too): beside the served
    processes' own figures, it tells a scenario slowed by other work on a shared machine from
    one slowed by the service itself.
    """
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    busy = sum(fields[:8]) - idle  # user, nice, system, irq, softirq, steal
    ticks = os.sysconf("SC_CLK_TCK")
    return busy / ticks, idle / ticks
