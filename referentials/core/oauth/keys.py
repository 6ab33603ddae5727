"""Socle's own signing keys (rotated, published as a JWKS) and the access tokens they sign."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import ECKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from referentials.core.db import utcnow
from referentials.core.errors import Unauthorized
from referentials.core.oauth.models import SigningKey

ALG = "ES256"
LEEWAY_SECONDS = 30
# Public keys by kid, read once per process: a key never changes once made.
_public: dict[str, ECKey] = {}


def looks_like_jwt(credential: str) -> bool:
    """A compact JWS (three dot-separated parts) rather than an ``sk_`` API key."""
    return credential.count(".") == 2 and credential.startswith("ey")


def _new_key(session: Session) -> SigningKey:
    key = ECKey.generate_key("P-256", parameters={"alg": ALG, "use": "sig"}, private=True)
    kid = key.thumbprint()
    row = SigningKey(kid=kid, private_jwk=json.dumps(key.as_dict(private=True, kid=kid)))
    session.add(row)
    session.flush()
    return row


def current_key(session: Session, *, rotation_days: int) -> SigningKey:
    """The newest signing key, replaced by a new one once it is older than the rotation."""
    newest = session.scalar(select(SigningKey).order_by(SigningKey.created_at.desc()).limit(1))
    if newest is None or newest.created_at <= utcnow() - timedelta(days=rotation_days):
        newest = _new_key(session)
    return newest


def published_jwks(session: Session, *, rotation_days: int, token_ttl: int) -> dict[str, Any]:
    """Public keys that may have signed a token still alive (a key signs for rotation_days)."""
    since = utcnow() - timedelta(days=rotation_days, seconds=token_ttl + LEEWAY_SECONDS)
    rows = session.scalars(
        select(SigningKey).where(SigningKey.created_at > since).order_by(SigningKey.created_at)
    )
    keys = [ECKey.import_key(json.loads(r.private_jwk)).as_dict(private=False) for r in rows]
    return {"keys": keys}


def sign_access_token(
    session: Session, claims: dict[str, Any], *, rotation_days: int, ttl: int
) -> str:
    """A JWT access token with the given claims, valid ``ttl`` seconds."""
    row = current_key(session, rotation_days=rotation_days)
    key = ECKey.import_key(json.loads(row.private_jwk))
    _public.setdefault(row.kid, ECKey.import_key(key.as_dict(private=False)))
    now = int(utcnow().timestamp())
    payload = {**claims, "iat": now, "exp": now + ttl, "jti": secrets.token_urlsafe(16)}
    return jwt.encode({"alg": ALG, "kid": row.kid, "typ": "at+jwt"}, payload, key)


def _public_key(session: Session, kid: str) -> ECKey:
    found = _public.get(kid)
    if found is None:
        row = session.get(SigningKey, kid)
        if row is None:
            raise Unauthorized("invalid access token: unknown signing key", code="invalid_token")
        found = ECKey.import_key(ECKey.import_key(json.loads(row.private_jwk)).as_dict())
        _public[kid] = found
    return found


def verify_access_token(session: Session, token: str, *, issuer: str) -> dict[str, Any]:
    """The claims of a token Socle signed; 401 naming the reason otherwise."""
    try:
        header = jws.extract_compact(token.encode()).headers()
    except (JoseError, ValueError) as exc:
        raise Unauthorized("invalid access token: not a JWT", code="invalid_token") from exc
    key = _public_key(session, str(header.get("kid", "")))
    try:
        decoded = jwt.decode(token, key, algorithms=[ALG])
    except JoseError as exc:
        raise Unauthorized("invalid access token: bad signature", code="invalid_token") from exc
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": issuer},
        exp={"essential": True},
    )
    try:
        registry.validate(decoded.claims)
    except JoseError as exc:
        raise Unauthorized(f"invalid access token: {refusal(exc)}", code="invalid_token") from exc
    return dict(decoded.claims)


CLAIM_WORDS = {"aud": "wrong audience", "iss": "wrong issuer", "nonce": "nonce mismatch"}


def refusal(exc: JoseError) -> str:
    """Why a JWT's claims were refused, in a few words (never the token itself)."""
    if isinstance(exc, ExpiredTokenError):
        return "expired"
    claim = getattr(exc, "claim", None)
    if claim:
        return CLAIM_WORDS.get(claim, f"wrong or missing claim '{claim}'")
    return exc.error


def rate_key(authorization: bytes) -> str | None:
    """The rate-limit bucket of a bearer token Socle signed: its API key, whatever the token.

    Only keys this process already verified a token with are used (no database here); a
    token that does not verify gets no bucket of its own key, so a forged one cannot drain it.
    """
    token = authorization.decode("latin-1").removeprefix("Bearer ").strip()
    if not looks_like_jwt(token):
        return None
    try:
        kid = str(jws.extract_compact(token.encode()).headers().get("kid", ""))
        key = _public.get(kid)
        if key is None:
            return None
        claims = jwt.decode(token, key, algorithms=[ALG]).claims
    except (JoseError, ValueError):
        return None
    key_id = claims.get("key_id")
    return f"key:{key_id}" if isinstance(key_id, int) else None
