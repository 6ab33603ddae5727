"""Sign-in throttling for the pages: failures counted per user name and per client address.

After ``per_user`` failures for one user name (or ``per_address`` from one address) within the
window, every attempt for it is refused, a right password included, until the lock-out delay
has passed; a success clears the user's count. Counts live in the process: with several
workers each keeps its own, so the effective allowance is multiplied by the worker count.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Tally:
    failures: int
    since: float
    locked_until: float = 0.0


class LoginThrottle:
    """Who may try to sign in now; thread-safe (the login route runs in a thread pool)."""

    def __init__(
        self,
        *,
        per_user: int = 5,
        per_address: int = 20,
        window_seconds: float = 900.0,
        lockout_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"user": per_user, "address": per_address}
        self.window, self.lockout, self.clock = window_seconds, lockout_seconds, clock
        self.tallies: dict[tuple[str, str], _Tally] = {}
        self.lock = threading.Lock()

    @staticmethod
    def _keys(username: str, address: str) -> list[tuple[str, str]]:
        return [("user", username.strip().casefold()), ("address", address)]

    def retry_after(self, username: str, address: str) -> float:
        """Seconds before this user, from this address, may try again (0: now)."""
        now = self.clock()
        with self.lock:
            waits = [
                tally.locked_until - now
                for key in self._keys(username, address)
                if (tally := self.tallies.get(key)) is not None
            ]
        return max([0.0, *waits])

    def failed(self, username: str, address: str) -> None:
        """Count a failed attempt; lock the user or the address when its limit is reached."""
        now = self.clock()
        with self.lock:
            if len(self.tallies) > 100_000:
                self._forget(now)
            for key in self._keys(username, address):
                tally = self.tallies.get(key)
                if tally is None or now - tally.since > self.window:
                    tally = self.tallies[key] = _Tally(0, now)
                tally.failures += 1
                if tally.failures >= self.limits[key[0]]:
                    tally.locked_until = now + self.lockout
                    tally.failures, tally.since = 0, now

    def succeeded(self, username: str) -> None:
        with self.lock:
            self.tallies.pop(("user", username.strip().casefold()), None)

    def _forget(self, now: float) -> None:
        stale = [
            k
            for k, t in self.tallies.items()
            if now - t.since > self.window and t.locked_until <= now
        ]
        for key in stale:
            del self.tallies[key]
