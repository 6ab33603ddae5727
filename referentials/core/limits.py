"""Request limits as ASGI middlewares: body size (413) and a per-key rate limit (429)."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referentials.core.handlers import error_body

# Only the API is keyed and limited; pages, docs, static files and the mock are not.
LIMITED_PREFIXES = ("/api/", "/fhir")


async def send_error(
    send: Send,
    status: int,
    code: str,
    detail: str,
    *,
    fields: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer with the service's one error shape, from a middleware."""
    body = json.dumps(error_body(code, detail, fields)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


class BodySizeLimit:
    """Refuses request bodies above a cap (per path prefix) with 413, before they are parsed."""

    def __init__(self, app: ASGIApp, *, default: int, per_prefix: dict[str, int]) -> None:
        self.app = app
        self.default = default
        # Longest prefix first, so "/api/v1/hl7v2/x" takes the hl7v2 cap.
        self.per_prefix = sorted(per_prefix.items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.per_prefix:
            if path.startswith(prefix):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_error(send, 413, *_too_large(limit), fields={"body": f"max {limit} bytes"})
            return
        received = 0

        async def counted() -> Message:
            # Chunked bodies carry no length: count as they arrive.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large(limit)[1])
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int) -> tuple[str, str]:
    return "payload_too_large", f"the request body is larger than the {limit} bytes accepted"


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimit:
    """A token bucket per API key (per client address when no key is sent); 429 + Retry-After."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_minute: int,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        identify: Callable[[bytes], str | None] | None = None,
    ) -> None:
        self.app = app
        # Names the bucket of a credential that stands for a key (an OAuth token), if any.
        self.identify = identify
        self.rate = per_minute / 60.0
        self.capacity = float(max(burst, 1))
        self.clock = clock
        self.buckets: dict[str, _Bucket] = {}

    def _who(self, scope: Scope) -> str:
        auth = _header(scope, b"authorization")
        if auth and self.identify is not None:
            named = self.identify(auth)
            if named:
                return named
        if auth:
            # The digest, never the key itself, is kept in memory.
            return "k:" + hashlib.sha256(auth).hexdigest()
        client = scope.get("client") or ("?", 0)
        return f"ip:{client[0]}"

    def take(self, who: str) -> float:
        """Spend one token; 0 when allowed, else the seconds until one is available."""
        now = self.clock()
        bucket = self.buckets.get(who)
        if bucket is None:
            if len(self.buckets) > 50_000:
                self._forget_full(now)
            bucket = self.buckets[who] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled holds no information: drop it to bound memory.
        full = [
            k
            for k, b in self.buckets.items()
            if b.tokens + (now - b.at) * self.rate >= self.capacity
        ]
        for key in full:
            del self.buckets[key]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.rate <= 0
            or not scope["path"].startswith(LIMITED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        wait = self.take(self._who(scope))
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
