"""Client authentication by a signed JWT (RFC 7523 private_key_jwt, SMART Backend Services)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from referentials.core.errors import Unauthorized
from referentials.core.oauth.keys import LEEWAY_SECONDS, refusal

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# The asymmetric algorithms SMART Backend Services names, and their PS/RS 256 siblings.
ALGORITHMS = ["RS384", "ES384", "RS256", "ES256", "PS256", "PS384"]
_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def invalid_client(reason: str) -> Unauthorized:
    return Unauthorized(f"client authentication failed: {reason}", code="invalid_client")


@dataclass(frozen=True)
class Assertion:
    """What the token endpoint keeps of a verified assertion."""

    client_id: str
    jti: str
    exp: int


def claimed_client(assertion: str) -> str:
    """The client an assertion says it comes from (``iss``), read before its keys are known."""
    try:
        payload = json.loads(jws.extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError) as exc:
        raise invalid_client("the client assertion is not a JWT") from exc
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    if not isinstance(issuer, str) or not issuer:
        raise invalid_client("the client assertion has no 'iss'")
    return issuer


def fetch_jwks(url: str, *, cache_seconds: int, timeout: float) -> dict[str, Any]:
    """A client's published keys, cached; called with no database transaction open."""
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(url)
    if cached is not None and now - cached[0] < cache_seconds:
        return cached[1]
    try:
        response = httpx.get(url, timeout=timeout)
        response.raise_for_status()
        jwks = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise invalid_client("the client's JWKS URL could not be read") from exc
    with _cache_lock:
        _cache[url] = (now, jwks)
    return dict(jwks)


def verify(
    assertion: str, jwks: dict[str, Any], *, client_id: str, audience: str, max_seconds: int
) -> Assertion:
    """Check signature, iss = sub = client, aud, exp (short-lived) and jti; 401 otherwise."""
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        decoded = jwt.decode(assertion, keys, algorithms=ALGORITHMS)
    except JoseError as exc:
        raise invalid_client("bad signature (no registered key verifies it)") from exc
    except ValueError as exc:
        raise invalid_client("the client's registered keys are unusable") from exc
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": client_id},
        sub={"essential": True, "value": client_id},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        jti={"essential": True},
    )
    claims = decoded.claims
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise invalid_client(f"assertion {refusal(exc)}") from exc
    if int(claims["exp"]) > time.time() + max_seconds + LEEWAY_SECONDS:
        raise invalid_client(f"assertion lives longer than {max_seconds} s")
    return Assertion(client_id=client_id, jti=str(claims["jti"]), exp=int(claims["exp"]))
