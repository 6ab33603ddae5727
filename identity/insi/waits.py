"""INSi calls wait in a bounded set of threads of their own, apart from the requests' pool.

Endpoints are synchronous: each runs in one of the server's request threads (a few per
process: referentials/core/threads.py). A search that waited for INSi in one of them would keep
it for the whole call, so a slow or stuck teleservice would take the pool from every other
caller. An INSi route runs its
whole search here instead (the read, the call, the answer's transaction, each transaction
ended before the call): at most ``size`` searches at once per process; beyond that, a search
waits for a place without holding a thread or a connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple, Unpack

import anyio
import anyio.to_thread

T = TypeVar("T")
Args = TypeVarTuple("Args")


class InsiWaits:
    """Where this process's INSi calls wait; ``size`` of them at once."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("at least one INSi call at a time")
        self.size = size
        self.limiter = anyio.CapacityLimiter(size)

    async def run(self, call: Callable[[Unpack[Args]], T], *args: *Args) -> T:
        """``call(*args)`` in one of the INSi threads, once one is free."""
        return await anyio.to_thread.run_sync(call, *args, limiter=self.limiter)
