"""A database-elected leader: the one process (among workers and instances) that runs the jobs.

The lead is a run lock (``run_locks``, the table that keeps two imports of one source apart):
each candidate tries, every third of the lease, to take or renew it; a conditional UPDATE
succeeds for the current holder, or for anyone once it has expired (or its local holder is dead),
so at most one candidate leads at a time. A leader that stops renewing (crashed, or cut from
the database) loses the lead after ``lease_seconds``, and another candidate takes over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine

from referentials.core import runs
from referentials.core.db import make_session_factory

log = logging.getLogger("socle.leader")


def lock_name(name: str) -> str:
    """The run lock that stands for the lead of ``name``."""
    return f"leader:{name}"


class Election:
    """Run ``on_elected`` while this candidate leads, ``on_deposed`` when it stops leading."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        on_elected: Callable[[], None],
        on_deposed: Callable[[], None],
        lease_seconds: float = 15.0,
    ) -> None:
        self.engine, self.name, self.lease_seconds = engine, name, lease_seconds
        self.on_elected, self.on_deposed = on_elected, on_deposed
        self.factory = make_session_factory(engine)
        self.holder = runs.new_owner()
        self.leading = False
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"leader-{name}", daemon=True)

    def start(self) -> Election:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)
        if self.leading:
            self._set(False)
            self._release()

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                lease = timedelta(seconds=self.lease_seconds)
                leads = runs.acquire_lock(
                    self.factory, lock_name(self.name), self.holder, ttl=lease
                )
            except Exception:  # the database is away: a leader that cannot renew steps down
                log.warning("%s lease not renewed", self.name, exc_info=True)
                leads = False
            if leads != self.leading and not self.stopped.is_set():
                self._set(leads)
            self.stopped.wait(self.lease_seconds / 3)

    def _set(self, leads: bool) -> None:
        self.leading = leads
        log.info("%s %s: %s", self.holder, "leads" if leads else "stopped leading", self.name)
        try:
            (self.on_elected if leads else self.on_deposed)()
        except Exception:
            # Raised here, it ended this thread: the process went on without ever leading
            # again, silently. It steps down instead (another candidate may lead), and tries
            # again at its next round.
            log.error("%s could not %s %s", self.holder, _VERB[leads], self.name, exc_info=True)
            if leads:
                self._set(False)  # undo what the failed start did
                self._release()

    def _release(self) -> None:
        try:
            runs.release_lock(self.factory, lock_name(self.name), self.holder)
        except Exception:
            log.warning("could not resign the %s lease; it expires by itself", self.name)


_VERB = {True: "start leading", False: "stop leading"}
