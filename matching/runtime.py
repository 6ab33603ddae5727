"""Process helpers for building millions of small objects: no idle collector, forked workers.

Kept apart from the numeric code (no numpy here), so the directory imports use them too.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of acyclic objects.

    Every few hundred allocations it would otherwise rescan all the rows and tuples already
    built (a third of the CPU time of reading a million rows); nothing built here is cyclic.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def fork_available() -> bool:
    """Whether worker processes can be forked (sharing this process's arrays copy-on-write)."""
    return "fork" in multiprocessing.get_all_start_methods()
