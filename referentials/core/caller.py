"""The busiest routes check the caller's key in the thread that does their work.

``auth.require`` looks the key up in a worker thread of its own before the route runs, which
runs in another: two trips from the event loop and back per request. Under load each worker's
event loop is what limits it, and every trip costs it time and a wait for the interpreter's
lock. A route that takes a ``Caller`` makes one trip: the key is looked up (from the database,
on every request, as ``require`` does), its scope checked and its call counted, first thing
in the thread that then does the route's work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Concatenate, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

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
        """``work(session, principal, *args)`` in one worker thread, the caller checked first."""
        return await run_in_threadpool(self.bound(session, work), *args, **kwargs)


def caller(scope: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency giving the route a ``Caller`` to check in its own thread (see ``Caller``)."""

    async def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Caller:
        return Caller(request, scope, secret_of(credentials))

    dependency.__name__ = f"caller_{scope.replace(':', '_')}"
    return dependency
