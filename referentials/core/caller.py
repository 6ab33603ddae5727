"""The busiest routes check the caller's key in the thread that does their work.

``auth.require`` looks the key up in a worker thread of its own before the route runs, which
runs in another: two trips from the event loop and back per request. Under load each worker's
event loop is what limits it, and every trip costs it time and a wait for the interpreter's
lock. A route that takes a ``Caller`` makes one trip: the key is looked up (from the database,
on every request, as ``require`` does), its scope checked and its call counted, first thing
in the thread that then does the route's work.

Matches and creations (``caller(scope, threads=MATCHES)``, ``CREATIONS``) each run in at
most ``limits.matching_threads`` threads of the process (``install_thread_limits``); the
others wait in the event loop, holding neither a thread nor a connection. Both are mostly the
interpreter's work (the candidates' scoring) between a few database round trips: with 16
matches at once in one process, every round trip and every wait for the interpreter's lock woke
another thread, about 90 context switches per match against 17 for one client, which cost CPU
on every match. Two threads keep the process as busy: one scores while the other waits for the
database. Each kind has its own threads: a match never waits behind creations that wait for
SQLite's writer. Reads are not limited: they are mostly round trips, which more threads
overlap (README, "A region calling at once").
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
    threads: str | None = None  # the kind's own threads (MATCHES, CREATIONS); None: any

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
        (of its kind's threads, once one is free)."""
        limiter = self.request.app.state.thread_limits[self.threads] if self.threads else None
        call = partial(self.bound(session, work), *args, **kwargs)
        return await anyio.to_thread.run_sync(call, limiter=limiter)


MATCHES = "matches"
CREATIONS = "creations"


def install_thread_limits(app: FastAPI, threads: int) -> None:
    """How many matches, and how many creations, each process of ``app`` runs at once."""
    app.state.thread_limits = {
        kind: anyio.CapacityLimiter(threads) for kind in (MATCHES, CREATIONS)
    }


def caller(scope: str, *, threads: str | None = None) -> Callable[..., Awaitable[Caller]]:
    """A dependency giving the route a ``Caller`` to check in its own thread (see ``Caller``);
    ``threads``: the kind (MATCHES, CREATIONS) whose threads the route runs in."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Caller:
        return Caller(request, scope, secret_of(credentials), threads)

    dependency.__name__ = f"caller_{scope.replace(':', '_')}_{threads or 'any'}"
    return dependency
