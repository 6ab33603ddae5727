"""API keys: stored hashed, carrying scopes, each tied to a client (and its FINESS when known)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, Protocol, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Boolean, Integer, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from starlette.concurrency import run_in_threadpool

from referentials.core.db import Base, UTCDateTime, utcnow
from referentials.core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from referentials.core.finess import check_finess
from referentials.core.oauth.keys import looks_like_jwt, verify_access_token
from referentials.core.oauth.models import OAuthClient
from referentials.core.principal import SCOPES, SYSTEM, Principal
from referentials.core.usage import record_call

__all__ = ["SCOPES", "SYSTEM", "DbSession", "Principal", "require"]

KEY_PREFIX = "sk_"
CLIENT_NAME_MAX = 200


class ApiKey(Base):
    """A client's key; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_name: Mapped[str] = mapped_column(String(CLIENT_NAME_MAX))
    finess: Mapped[str | None] = mapped_column(String(9), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the key, shown in listings to recognise it.
    key_hint: Mapped[str] = mapped_column(String(12))
    scopes: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def scope_list(self) -> list[str]:
        return split_scopes(self.scopes)


def split_scopes(scopes: str) -> list[str]:
    """The scopes of a key's stored ``scopes`` column (comma-separated)."""
    return [s for s in scopes.split(",") if s]


def hash_key(secret: str) -> str:
    # Keys are 256-bit random tokens: a plain SHA-256 cannot be brute-forced, and lets the
    # lookup be one indexed equality.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_scopes(raw: str | list[str]) -> list[str]:
    """Split and check a scope list; an unknown scope is an error naming it."""
    items = raw.split(",") if isinstance(raw, str) else raw
    scopes = [s.strip() for s in items if s.strip()]
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValidationFailed(
            f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}",
            fields={"scopes": unknown},
        )
    if not scopes:
        raise ValidationFailed("at least one scope is needed", fields={"scopes": []})
    return scopes


def _client_name(name: str) -> str:
    # The audit trail, the event feed's origins and subscriptions name clients: "system" and
    # "user:<name>" already name the service's jobs and the officers of the web pages.
    name = name.strip()
    if not name or len(name) > CLIENT_NAME_MAX:
        raise ValidationFailed(
            f"a client's name is 1 to {CLIENT_NAME_MAX} characters", fields={"client_name": name}
        )
    if name == SYSTEM.client_name or name.startswith("user:"):
        raise ValidationFailed(
            f"{name!r} names the service's own jobs or an officer, not a client",
            fields={"client_name": name},
        )
    return name


def create_api_key(
    session: Session,
    *,
    client_name: str,
    scopes: list[str],
    finess: str | None = None,
    secret: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret (shown once, never stored)."""
    secret = secret or KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        client_name=_client_name(client_name),
        # A key tied to a mistyped FINESS would send no local id of its own establishment
        # and hear of none of its patients.
        finess=None if finess is None else check_finess(finess),
        key_hash=hash_key(secret),
        key_hint=secret[:8],
        scopes=",".join(parse_scopes(scopes)),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, secret


def ensure_bootstrap_key(session: Session, secret: str) -> ApiKey:
    """Make sure the configured bootstrap key exists with every scope, unless it was revoked.

    A revoked bootstrap key stays revoked: a restart must not undo an operator's revocation.
    """
    existing = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
    if existing is None:
        key, _ = create_api_key(
            session, client_name="bootstrap", scopes=list(SCOPES), secret=secret
        )
        return key
    if not existing.revoked:
        existing.scopes = ",".join(SCOPES)
    return existing


def list_api_keys(session: Session) -> list[ApiKey]:
    """Every key, oldest first (hashes and hints only: secrets are never stored)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def replace_api_key(
    session: Session, key_id: int, *, lifetime: timedelta | None = None
) -> tuple[ApiKey, ApiKey, str]:
    """A new key for the client of key ``key_id``, with its FINESS and scopes: the old key, the
    new one and its secret (shown once). The old key is left as it is (valid until revoked or
    expired), so that the client switches at its pace. ``lifetime``: the new key's; by default
    the old key's, if it had one."""
    old = session.get(ApiKey, key_id)
    if old is None:
        raise NotFound(f"no API key {key_id}", fields={"id": key_id})
    if lifetime is None and old.expires_at is not None:
        lifetime = old.expires_at - old.created_at
    new, secret = create_api_key(
        session,
        client_name=old.client_name,
        scopes=old.scope_list,
        finess=old.finess,
        expires_at=utcnow() + lifetime if lifetime is not None else None,
    )
    return old, new, secret


def revoke_api_key(session: Session, key_id: int) -> ApiKey:
    """Revoke a key; it is refused from the next request on (keys are checked on each one)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}", fields={"id": key_id})
    key.revoked = True
    session.flush()
    return key


class KeyFields(Protocol):
    """What a principal is made of: a stored key, or the row of its columns."""

    id: int
    client_name: str
    finess: str | None
    scopes: str
    expires_at: datetime | None
    revoked: bool


# Every request looks its key up: plain columns by one statement built once (loading an ORM
# object and building the query each time was a tenth of a read's CPU).
_KEY_BY_HASH = select(
    ApiKey.id,
    ApiKey.client_name,
    ApiKey.finess,
    ApiKey.scopes,
    ApiKey.expires_at,
    ApiKey.revoked,
).where(ApiKey.key_hash == bindparam("digest"))


def authenticate(session: Session, secret: str) -> Principal:
    """The principal for a presented secret, or 401."""
    row = session.execute(_KEY_BY_HASH, {"digest": hash_key(secret)}).first()
    return _principal_of(cast(KeyFields | None, row))


def _principal_of(key: KeyFields | None, scopes: set[str] | None = None) -> Principal:
    if key is None or key.revoked:
        raise Unauthorized("invalid or revoked API key")
    if key.expires_at is not None and key.expires_at <= utcnow():
        raise Unauthorized("expired API key")
    stored = set(split_scopes(key.scopes))
    granted = stored if scopes is None else scopes & stored
    return Principal(
        key_id=key.id,
        client_name=key.client_name,
        finess=key.finess,
        scopes=frozenset(granted),
    )


def authenticate_token(session: Session, token: str, *, issuer: str) -> Principal:
    """The principal of an OAuth access token: the key it was issued for, checked anew."""
    claims = verify_access_token(session, token, issuer=issuer)
    client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == claims["sub"]))
    if client is None or client.revoked:
        raise Unauthorized("invalid access token: the client was revoked", code="invalid_token")
    key = session.get(ApiKey, client.api_key_id)
    return _principal_of(key, set(str(claims.get("scope", "")).split()))


bearer = HTTPBearer(
    auto_error=False,
    description="API key or OAuth access token: `Authorization: Bearer <key or token>`",
)


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session and one transaction per request: commit on success, roll back on error.

    Opening a session touches no database (it connects on first use), so it happens in the
    event loop; the end (commit or rollback, then close) is one trip to a worker thread, or
    none when the endpoint already committed in its own. A synchronous dependency would take
    two trips, one in and one out, for every request.
    """
    session: Session = request.app.state.session_factory()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_end, session, commit=False)
        raise
    if session.in_transaction() or session.info:
        await run_in_threadpool(_end, session, commit=True)
    else:
        # The endpoint committed in its own thread (``commit_now``) and left nothing pending
        # (``info`` holds what a commit would still hand over): closing touches no database.
        session.close()


def _end(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


# scope="function": the transaction commits before the response leaves, so a client that
# reads right after a write sees it.
DbSession = Annotated[Session, Depends(get_db, scope="function")]


def secret_of(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    return credentials.credentials


def lookup(request: Request, session: Session, secret: str) -> Principal:
    if looks_like_jwt(secret):
        issuer = request.app.state.settings.base_url
        principal = authenticate_token(session, secret, issuer=issuer)
    else:
        principal = authenticate(session, secret)
    request.state.principal = principal
    return principal


def allowed(principal: Principal, scope: str, session: Session) -> Principal:
    if not principal.has(scope):
        raise Forbidden(f"this key lacks the scope '{scope}'", fields={"scope": scope})
    record_call(session, principal, scope.split(":")[0])
    return principal


def get_principal(
    *,
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    session: DbSession,
) -> Principal:
    """The caller, from its bearer key (401 when missing or bad)."""
    return lookup(request, session, secret_of(credentials))


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through callers holding ``scope`` (or ``admin``)."""

    # Asynchronous: it only reads the principal and counts in memory, so it runs in the event
    # loop rather than costing each request one more trip to a worker thread.
    async def dependency(
        *, principal: Principal = Depends(get_principal), session: DbSession
    ) -> Principal:
        return allowed(principal, scope, session)

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency
