"""INSi calls wait in a bounded set of threads of their own, apart from the requests' pool.

Endpoints are synchronous: each runs in one of the server's request threads (a few per process:
referentials/core/threads.py). A search that waited for INSi in one of them would keep it for
the whole call, so a slow or stuck teleservice would take the pool from every other caller. An
INSi route runs its whole search here instead (the read, the call, the answer's transaction,
each transaction ended before the call): at most ``size`` searches at once per process; beyond
that, a search waits for a place without holding a thread or a connection.
"""

from __future__ import annotations

from fastapi import Request

from referentials.core.threads import Threads


class InsiWaits(Threads):
    """Where this process's INSi calls wait; ``size`` of them at once."""


def waits_of(request: Request) -> InsiWaits:
    """The INSi threads of the process serving ``request``."""
    waits: InsiWaits = request.app.state.insi_waits
    return waits
