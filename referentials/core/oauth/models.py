"""OAuth tables: registered clients, Socle's signing keys, client assertions already used."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referentials.core.db import Base, UTCDateTime, utcnow


class OAuthClient(Base):
    """A client that authenticates with its own keys; it acts as the API key it is tied to."""

    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(80), unique=True)
    # The key whose scopes, FINESS, rate limit, usage counts and audit identity it carries.
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    # Either the public keys themselves or where to fetch them.
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jwks_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class SigningKey(Base):
    """A key Socle signs access tokens with; kept (and published) after rotation until unused."""

    __tablename__ = "oauth_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The private JWK as JSON: the database is the one place every worker and instance shares.
    private_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class UsedAssertion(Base):
    """A client assertion's jti, kept until the assertion expires, so it cannot be replayed."""

    __tablename__ = "oauth_used_assertions"
    __table_args__ = (UniqueConstraint("client_id", "jti", name="uq_oauth_assertion_jti"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(80))
    jti: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
