"""Registering token clients and issuing their access tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from referentials.core.auth import ApiKey
from referentials.core.db import utcnow
from referentials.core.errors import Forbidden, NotFound, ValidationFailed
from referentials.core.oauth.assertion import Assertion, invalid_client
from referentials.core.oauth.keys import sign_access_token
from referentials.core.oauth.models import OAuthClient, UsedAssertion
from referentials.core.settings import Settings


@dataclass(frozen=True)
class ClientKeys:
    """Where a client's public keys are: inline or at a URL (read outside any transaction)."""

    client_id: str
    jwks: dict[str, Any] | None
    jwks_url: str | None


def _check_jwks(jwks: dict[str, Any]) -> None:
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as exc:
        raise ValidationFailed(f"not a JWKS: {exc}", fields={"jwks": "invalid"}) from exc
    if any(k.is_private for k in keys.keys):
        raise ValidationFailed("the JWKS holds a private key: send public keys only", fields={})


def register_client(
    session: Session,
    *,
    api_key_id: int,
    jwks: dict[str, Any] | None = None,
    jwks_url: str | None = None,
) -> OAuthClient:
    """Register a client acting as an API key, with its public keys (JWKS) or their URL."""
    if session.get(ApiKey, api_key_id) is None:
        raise NotFound(f"no API key {api_key_id}", fields={"api_key_id": api_key_id})
    if (jwks is None) == (jwks_url is None):
        raise ValidationFailed("give either a JWKS or a JWKS URL", fields={"jwks": "one of"})
    if jwks is not None:
        _check_jwks(jwks)
    if jwks_url is not None and not jwks_url.startswith(("https://", "http://127.0.0.1")):
        raise ValidationFailed("a JWKS URL must be https", fields={"jwks_url": jwks_url})
    client = OAuthClient(
        client_id="oc_" + secrets.token_urlsafe(12),
        api_key_id=api_key_id,
        jwks=jwks,
        jwks_url=jwks_url,
    )
    session.add(client)
    session.flush()
    return client


def list_clients(session: Session) -> list[OAuthClient]:
    """Every registered token client, oldest first."""
    return list(session.scalars(select(OAuthClient).order_by(OAuthClient.id)))


def clients_by_key(session: Session) -> dict[int, list[str]]:
    """The client ids of the token clients not revoked, by the API key each acts as."""
    found: dict[int, list[str]] = {}
    rows = session.execute(
        select(OAuthClient.api_key_id, OAuthClient.client_id)
        .where(OAuthClient.revoked.is_(False))
        .order_by(OAuthClient.id)
    )
    for key_id, client_id in rows:
        found.setdefault(key_id, []).append(client_id)
    return found


def move_clients(session: Session, from_key: int, to_key: int) -> list[str]:
    """Tie the token clients of one API key to another (its replacement); their client ids.

    A token client holds its own key pair, never the API key's secret: it goes on unchanged,
    acting as the new key from its next token on."""
    moved = list(
        session.scalars(
            select(OAuthClient).where(
                OAuthClient.api_key_id == from_key, OAuthClient.revoked.is_(False)
            )
        )
    )
    for client in moved:
        client.api_key_id = to_key
    session.flush()
    return [client.client_id for client in moved]


def revoke_client(session: Session, client_id: str) -> OAuthClient:
    """Revoke a client: no new token; tokens it holds are refused from the next request."""
    client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None:
        raise NotFound(f"no OAuth client {client_id}", fields={"client_id": client_id})
    client.revoked = True
    session.flush()
    return client


def client_keys(session: Session, client_id: str) -> ClientKeys:
    """The keys of an active client; 401 for an unknown or revoked one."""
    client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None or client.revoked:
        raise invalid_client("unknown or revoked client")
    return ClientKeys(client.client_id, client.jwks, client.jwks_url)


def _spend(session: Session, assertion: Assertion) -> None:
    # Expired entries can go: an expired assertion is refused anyway.
    session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < utcnow()))
    expires = datetime.fromtimestamp(assertion.exp, UTC)
    try:
        with session.begin_nested():
            session.add(
                UsedAssertion(client_id=assertion.client_id, jti=assertion.jti, expires_at=expires)
            )
    except IntegrityError as exc:
        raise invalid_client("the client assertion was already used (replayed jti)") from exc


def _granted(key: ApiKey, requested: str | None) -> list[str]:
    allowed = key.scope_list
    if not requested:
        return allowed
    asked = requested.split()
    refused = [s for s in asked if s not in allowed]
    if refused:
        raise Forbidden(
            f"scope(s) not granted to this client: {', '.join(refused)}",
            code="invalid_scope",
            fields={"scope": refused},
        )
    return asked


def issue_token(
    session: Session, assertion: Assertion, *, scope: str | None, settings: Settings
) -> dict[str, Any]:
    """Spend the assertion and sign an access token carrying the key's scopes and FINESS."""
    _spend(session, assertion)
    client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == assertion.client_id))
    key = session.get(ApiKey, client.api_key_id) if client is not None else None
    if client is None or client.revoked or key is None or key.revoked:
        raise invalid_client("unknown or revoked client")
    if key.expires_at is not None and key.expires_at <= utcnow():
        raise invalid_client("the client's API key has expired")
    scopes = _granted(key, scope)
    ttl = settings.oauth.token_ttl_seconds
    if key.expires_at is not None:
        ttl = min(ttl, int((key.expires_at - utcnow()).total_seconds()))
    claims = {
        "iss": settings.base_url,
        "aud": settings.base_url,
        "sub": client.client_id,
        "key_id": key.id,
        "scope": " ".join(scopes),
        "finess": key.finess,
    }
    token = sign_access_token(
        session, claims, rotation_days=settings.oauth.key_rotation_days, ttl=ttl
    )
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": ttl,
        "scope": claims["scope"],
    }
