"""Token tests: a Socle instance whose base URL is its own address, clients with test keys."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from referentials.app import create_app
from referentials.core.auth import create_api_key
from referentials.core.db import session_scope
from referentials.core.oauth import service
from referentials.core.oauth.assertion import ASSERTION_TYPE
from referentials.core.settings import SchedulerSettings, Settings
from tests.conftest import ThreadedServer, free_port

FINESS = "690999016"


def new_key(kind: str = "RSA") -> RSAKey | ECKey:
    """A client's key pair, made in the test (never a file of keys)."""
    if kind == "EC":
        return ECKey.generate_key("P-384", {"alg": "ES384"}, private=True, auto_kid=True)
    return RSAKey.generate_key(2048, {"alg": "RS384"}, private=True, auto_kid=True)


def public_jwks(*keys: RSAKey | ECKey) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


@dataclass
class Client:
    """A registered client: its id, key pair, API key id, and the server's token URL."""

    client_id: str
    key: RSAKey | ECKey
    key_id: int
    token_url: str

    def assertion(self, *, signing_key: RSAKey | ECKey | None = None, **changes: Any) -> str:
        """A client assertion as RFC 7523 and SMART Backend Services want it (5 min at most)."""
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "exp": now + 240,
            "iat": now,
            "jti": secrets.token_urlsafe(12),
        }
        claims.update(changes)
        key = signing_key or self.key
        alg = "ES384" if isinstance(key, ECKey) else "RS384"
        header = {"alg": alg, "kid": key.kid, "typ": "JWT"}
        return jwt.encode(header, claims, key, algorithms=[alg])

    def form(self, assertion: str | None = None, **extra: str) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion or self.assertion(),
            **extra,
        }


@pytest.fixture(scope="module")
def token_server(db_settings: Settings, engine: Engine) -> Iterator[ThreadedServer]:
    port = free_port()
    settings = db_settings.model_copy(
        update={
            "host": "127.0.0.1",
            "port": port,
            "base_url": f"http://127.0.0.1:{port}",
            "scheduler": SchedulerSettings(enabled=False),
        }
    )
    with ThreadedServer(create_app(settings), port=port) as server:
        yield server


@pytest.fixture()
def http(token_server: ThreadedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=token_server.url, timeout=30) as client:
        yield client


@pytest.fixture()
def register(token_server: ThreadedServer, session_factory: sessionmaker[Session]) -> Any:
    """Register a client acting as a new API key with these scopes (inline JWKS or a URL)."""

    def make(
        scopes: list[str], *, kind: str = "RSA", jwks_url: str | None = None, key: Any = None
    ) -> Client:
        key = key or new_key(kind)
        with session_scope(session_factory) as session:
            api_key, _ = create_api_key(
                session, client_name="coordination-tool", scopes=scopes, finess=FINESS
            )
            client = service.register_client(
                session,
                api_key_id=api_key.id,
                jwks=None if jwks_url else public_jwks(key),
                jwks_url=jwks_url,
            )
            found = Client(client.client_id, key, api_key.id, f"{token_server.url}/oauth/token")
        return found

    return make
