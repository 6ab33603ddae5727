"""The rate limit (429 + Retry-After): a token bucket per authenticated API key.

A bearer value counts as a key only once it is found among the stored keys: random values
would otherwise each get a fresh bucket. Requests without a known key (none, unknown, revoked)
share one small bucket per client address, spent *before* the key is looked up, so a flood of
invented keys costs the database at most that bucket's rate. The key secret is never kept:
only its SHA-256, which is what the database stores anyway.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from referentials.core.auth import ApiKey, hash_key
from referentials.core.limits import LIMITED_PREFIXES, send_error


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass(frozen=True)
class Budget:
    """Sustained requests per minute and the burst allowed above it."""

    per_minute: int
    burst: int

    @property
    def rate(self) -> float:
        return self.per_minute / 60.0

    @property
    def capacity(self) -> float:
        return float(max(self.burst, 1))


class KeyResolver:
    """Key id of a stored, unrevoked key from its digest; found keys are kept ``ttl`` seconds."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.factory, self.ttl, self.clock = factory, ttl, clock
        self.known: dict[str, tuple[int, float]] = {}

    def cached(self, digest: str) -> int | None:
        hit = self.known.get(digest)
        return hit[0] if hit is not None and self.clock() - hit[1] < self.ttl else None

    def __call__(self, digest: str) -> int | None:
        with self.factory() as session:
            key_id = session.scalar(
                select(ApiKey.id).where(ApiKey.key_hash == digest, ApiKey.revoked.is_(False))
            )
        if key_id is not None:
            if len(self.known) > 10_000:
                self.known.clear()
            self.known[digest] = (key_id, self.clock())
        return key_id


def bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, secret = bytes(value).decode("latin-1").partition(" ")
            return secret.strip() or None if scheme.lower() == "bearer" else None
    return None


class RateLimit:
    """Per-key buckets for known keys; one small bucket per address for everything else."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_minute: int,
        burst: int,
        unknown: Budget | None = None,
        resolver: KeyResolver | None = None,
        identify: Callable[[bytes], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app, self.clock, self.resolver = app, clock, resolver
        # Names the bucket of a credential that stands for a key (an OAuth token Socle signed).
        self.identify = identify
        self.known = Budget(per_minute, burst)
        self.unknown = unknown or Budget(per_minute, burst)
        self.buckets: dict[str, _Bucket] = {}

    def take(self, who: str, budget: Budget | None = None) -> float:
        """Spend one token; 0 when allowed, else the seconds until one is available."""
        budget = budget or self.known
        now = self.clock()
        bucket = self.buckets.get(who)
        if bucket is None:
            if len(self.buckets) > 50_000:
                self._forget_full(now)
            bucket = self.buckets[who] = _Bucket(budget.capacity, now)
        bucket.tokens = min(budget.capacity, bucket.tokens + (now - bucket.at) * budget.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / budget.rate

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled holds no information: drop it to bound memory.
        rate, capacity = self.unknown.rate, self.known.capacity
        for key in [
            k for k, b in self.buckets.items() if b.tokens + (now - b.at) * rate >= capacity
        ]:
            del self.buckets[key]

    async def wait_for(self, scope: Scope) -> float:
        """Seconds this request must wait (0: let through)."""
        secret = bearer(scope)
        if secret and self.identify is not None:
            named = self.identify(b"Bearer " + secret.encode("latin-1"))
            if named:
                return self.take(named)
        digest = hash_key(secret) if secret else None
        if digest is not None and self.resolver is not None:
            key_id = self.resolver.cached(digest)
            if key_id is not None:
                return self.take(f"key:{key_id}")
        client = scope.get("client") or ("?", 0)
        wait = self.take(f"ip:{client[0]}", self.unknown)
        if wait > 0 or digest is None or self.resolver is None:
            return wait
        try:
            key_id = await run_in_threadpool(self.resolver, digest)
        except SQLAlchemyError:
            # Database down: let the request through, the route answers 503 itself.
            return 0.0
        return self.take(f"key:{key_id}") if key_id is not None else 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.known.per_minute <= 0
            or not scope["path"].startswith(LIMITED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        wait = await self.wait_for(scope)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            await send_error(
                send,
                429,
                "rate_limited",
                f"too many requests for this key; retry in {retry} s",
                headers={"Retry-After": str(retry)},
            )
            return
        await self.app(scope, receive, send)
