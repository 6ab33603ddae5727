"""Request limits as ASGI middlewares: body size (413); the rate limit is in ``ratelimit``."""

from __future__ import annotations

import json

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
