"""The busiest routes check the caller's key in the thread that does their work.

``auth.require`` looks the key up in a worker thread of its own before the route runs, which
runs in another: two trips from the event loop and back per request. Under load each worker's
event loop is what limits it, and every trip costs it time and a wait for the interpreter's
lock. A route that takes a ``Caller`` makes one trip: the key is looked up (from the database,
on every request, as ``require`` does), its scope checked and its call counted, first thing
in the thread that then does the route's work.

A match (``caller(scope, matching=True)``) runs in one of at most ``limits.matching_threads``
threads of the process (``install_matching_threads``); the others wait in the event loop,
holding neither a thread nor a connection. A match is mostly the interpreter's work (the
candidates' scoring) between a few database round trips: with 16 matches at once in one
process, every round trip and every wait for the interpreter's lock woke another thread, about
90 context switches per match against 17 for one client, which cost CPU on every match. Two
threads keep the process as busy: one scores while the other waits for the database. Reads
take the request threads (``limits.request_threads``, referentials/core/threads.py).

A creation takes the same threads (it scores its candidates, then writes): on SQLite its write
transaction holds the one writer's turn of every process, and each of its statements gives the
interpreter's lock away and waits to get it back; among a dozen scoring threads that wait
stretched every creation's hold on the turn, and every other creation waited for it. Updates
take the request threads, and an update that may call INSi after its commit an INSi thread: a
call must hold neither a matching thread nor a request thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Concatenate, ParamSpec, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from referentials.core.auth import allowed, bearer, lookup, secret_of
from referentials.core.principal import Principal

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """A request's credential and the scope its route needs, looked up by the route's thread.

    A missing credential is refused (401) before the route runs, by the dependency.
    """

    request: Request
    scope: str
    secret: str = field(repr=False)  # never in a log line or a traceback's repr
    matching: bool = False

    def principal(self, session: Session) -> Principal:
        """The caller holding the route's scope: 401 or 403 otherwise."""
        return allowed(lookup(self.request, session, self.secret), self.scope, session)

    def bound(
        self, session: Session, work: Callable[Concatenate[Session, Principal, P], T]
    ) -> Callable[P, T]:
        """``work(session, principal, ...)``, the caller checked first, in the calling thread."""

        def checked(*args: P.args, **kwargs: P.kwargs) -> T:
            return work(session, self.principal(session), *args, **kwargs)

        return checked

    async def run(
        self,
        session: Session,
        work: Callable[Concatenate[Session, Principal, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``work(session, principal, *args)`` in one worker thread, the caller checked first
        (a match's: one of the process's matching threads, once one is free)."""
        limiter = matching_limiter(self.request.app) if self.matching else None
        call = partial(self.bound(session, work), *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=limiter)


def install_matching_threads(app: FastAPI, threads: int) -> None:
    """How many matches each process of ``app`` runs at once (see the module)."""
    app.state.matching_limiter = anyio.CapacityLimiter(threads)


def matching_limiter(app: FastAPI) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter = app.state.matching_limiter
    return limiter


def caller(scope: str, *, matching: bool = False) -> Callable[..., Awaitable[Caller]]:
    """A dependency giving the route a ``Caller`` to check in its own thread (see ``Caller``);
    ``matching``: the route is a match, run in one of the process's matching threads."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Caller:
        return Caller(request, scope, secret_of(credentials), matching)

    # The scope, read back from this name by the routes' table (tests/reliability/routes.py).
    dependency.__name__ = f"caller_{scope.replace(':', '_')}"
    return dependency
