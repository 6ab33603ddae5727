"""A database-elected leader: the one process (among workers and instances) that runs the jobs.

Each candidate tries, every third of the lease, to take or renew one row of ``leader_leases``:
a single conditional UPDATE succeeds for the current holder, or for anyone once the lease has
expired, so at most one candidate holds it at a time. A holder that stops renewing (crashed,
or cut from the database) loses it after ``lease_seconds``, and another candidate takes over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, String, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from referentials.core.db import Base, UTCDateTime, utcnow

log = logging.getLogger("socle.leader")


class LeaderLease(Base):
    """Who leads one kind of work (e.g. ``scheduler``), until when."""

    __tablename__ = "leader_leases"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


def candidate_id() -> str:
    """This candidate's name: host, process and a random part (two apps in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def try_lead(engine: Engine, name: str, holder: str, lease_seconds: float) -> bool:
    """Take or renew the lease; True when ``holder`` holds it until now + lease_seconds."""
    now = utcnow()
    until = now + timedelta(seconds=lease_seconds)
    with engine.begin() as conn:
        taken = conn.execute(
            update(LeaderLease)
            .where(LeaderLease.name == name)
            .where((LeaderLease.holder == holder) | (LeaderLease.expires_at < now))
            .values(holder=holder, expires_at=until)
        ).rowcount
    if taken:
        return True
    try:
        with engine.begin() as conn:
            conn.execute(insert(LeaderLease).values(name=name, holder=holder, expires_at=until))
    except IntegrityError:  # someone else holds it
        return False
    return True


def resign(engine: Engine, name: str, holder: str) -> None:
    """Give the lease up at once (a clean shutdown), so another candidate need not wait."""
    with engine.begin() as conn:
        conn.execute(
            update(LeaderLease)
            .where(LeaderLease.name == name, LeaderLease.holder == holder)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


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
        self.holder = candidate_id()
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
            try:
                resign(self.engine, self.name, self.holder)
            except Exception:
                log.warning("could not resign the %s lease; it expires by itself", self.name)

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                leads = try_lead(self.engine, self.name, self.holder, self.lease_seconds)
            except Exception:  # the database is away: a leader that cannot renew steps down
                log.warning("%s lease not renewed", self.name, exc_info=True)
                leads = False
            if leads != self.leading and not self.stopped.is_set():
                self._set(leads)
            self.stopped.wait(self.lease_seconds / 3)

    def _set(self, leads: bool) -> None:
        self.leading = leads
        log.info("%s %s: %s", self.holder, "leads" if leads else "stopped leading", self.name)
        (self.on_elected if leads else self.on_deposed)()
