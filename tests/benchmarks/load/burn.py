"""Burn ``ms`` milliseconds of CPU ``per_second`` times a second, until killed.

The load benchmark's "read x32 + cpu" scenario runs it beside the reads: the CPU the 8 INSi
searchers take, as one plain process with nothing else of a search (no database, no socket).

    python burn.py <per_second> <ms>
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    per_second, ms = float(sys.argv[1]), float(sys.argv[2])
    period, due = 1.0 / per_second, time.monotonic()
    while True:
        until = time.thread_time() + ms / 1000
        while time.thread_time() < until:
            pass
        due += period
        time.sleep(max(due - time.monotonic(), 0.0))


if __name__ == "__main__":
    main()
