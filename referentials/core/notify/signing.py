"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>", one ``v1`` per valid secret.

Header: ``Socle-Signature: t=1733220000,v1=<hex>[,v1=<hex>]``. During a secret rotation both
the new and the previous secret sign, so a receiver holding either accepts the delivery; a
receiver rejects a timestamp too far from its clock (a replayed capture).
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Socle-Signature"
TOLERANCE_SECONDS = 300


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(secrets: tuple[str, ...], body: bytes, *, timestamp: int | None = None) -> str:
    """The header value signing ``body`` with every secret given (current first)."""
    t = int(time.time()) if timestamp is None else timestamp
    return ",".join([f"t={t}"] + [f"v1={_mac(s, t, body)}" for s in secrets])


def verify(
    header: str,
    body: bytes,
    secret: str,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """Whether one of the header's signatures is ``secret``'s, with a timestamp near ``now``."""
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    expected = _mac(secret, t, body)
    return any(k.strip() == "v1" and hmac.compare_digest(v, expected) for k, v in parts)
