"""Where a served process runs blocking work: a few request threads, and threads for calls out.

Synchronous routes and dependencies run in anyio's default pool, the request threads. Their
work is the interpreter's and the database's: more threads than that work can use only make
them wait for each other. With anyio's 40 per process, a crowd of callers put 40 threads per
process in turn on the interpreter's lock and 40 connections (40 cold page caches on SQLite)
on the database, and each process served fewer requests the more were waiting (README, "A
region calling at once", many more callers than threads). ``limits.request_threads`` bounds
the pool; the requests beyond it wait in the event loop, holding neither a thread nor a
connection. Unset, it depends on the database: on SQLite a request's work is all the
interpreter's and the file's, and 8 threads did best; on PostgreSQL a read waits on the
server's round trips, which more threads overlap: 8 served about a tenth fewer reads than 40,
24 as many, with a shorter tail under a crowd.

A call to another service must not wait in that pool: a slow or stuck service would take the
few request threads from every other caller. INSi calls wait in threads of their own
(identity/insi/waits.py); every other call out made while serving (Pro Santé Connect, a
client's published keys, the readiness probe's look at INSi) runs its route's work in the
``outbound`` threads, ``OUTBOUND_THREADS`` at a time per process, each call bounded by its
timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, TypeVarTuple, Unpack

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from sqlalchemy import make_url

from referentials.core.settings import Settings

T = TypeVar("T")
Args = TypeVarTuple("Args")

# Request threads per process when the setting is unset, by database.
REQUEST_THREADS = {"sqlite": 8, "postgresql": 24}
# Calls out that may wait at once in one process; beyond them, a caller waits for a place.
OUTBOUND_THREADS = 16


def request_threads(settings: Settings) -> int:
    """How many request threads each served process runs."""
    if settings.limits.request_threads is not None:
        return settings.limits.request_threads
    backend = make_url(settings.database_url).get_backend_name()
    return REQUEST_THREADS.get(backend, REQUEST_THREADS["postgresql"])


def bound_request_threads(settings: Settings) -> None:
    """Bound this event loop's request threads (call it from the running loop: the lifespan)."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = request_threads(settings)


class Threads:
    """Threads of their own, apart from the request threads: ``size`` calls at once; beyond
    that, a caller waits for a place without holding a thread or a connection."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("at least one thread")
        self.size = size
        self.limiter = anyio.CapacityLimiter(size)

    async def run(self, call: Callable[[Unpack[Args]], T], *args: *Args) -> T:
        """``call(*args)`` in one of these threads, once one is free."""
        return await anyio.to_thread.run_sync(call, *args, limiter=self.limiter)


def install_outbound_threads(app: FastAPI, threads: int = OUTBOUND_THREADS) -> None:
    app.state.outbound_threads = Threads(threads)


async def outbound(request: Request, call: Callable[[Unpack[Args]], T], *args: *Args) -> T:
    """``call(*args)``, which calls another service, in one of the outbound threads."""
    pool: Threads = request.app.state.outbound_threads
    return await pool.run(call, *args)
