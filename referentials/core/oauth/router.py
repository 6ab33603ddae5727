"""The token endpoint and the documents that describe it (JWKS, SMART configuration)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from referentials.core import threads
from referentials.core.auth import DbSession
from referentials.core.db import session_scope
from referentials.core.errors import AppError
from referentials.core.oauth import assertion as assertions
from referentials.core.oauth import service
from referentials.core.oauth.keys import ALG, published_jwks
from referentials.core.principal import SCOPES
from referentials.core.settings import Settings

router = APIRouter(tags=["oauth"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post("/oauth/token")
async def token(
    request: Request,
    grant_type: str = Form(...),
    client_assertion_type: str = Form(...),
    client_assertion: str = Form(..., max_length=16_000),
    scope: str | None = Form(None),
) -> JSONResponse:
    """Client credentials with a private_key_jwt assertion (RFC 7523); a short-lived JWT back."""
    # The client's published keys may be read: a call out, in the outbound threads.
    return await threads.outbound(
        request, _token, request, grant_type, client_assertion_type, client_assertion, scope
    )


def _token(
    request: Request,
    grant_type: str,
    client_assertion_type: str,
    client_assertion: str,
    scope: str | None,
) -> JSONResponse:
    if grant_type != "client_credentials":
        raise AppError(
            "only grant_type=client_credentials is served",
            code="unsupported_grant_type",
            fields={"grant_type": grant_type},
        )
    if client_assertion_type != assertions.ASSERTION_TYPE:
        raise assertions.invalid_client(
            f"client_assertion_type must be {assertions.ASSERTION_TYPE}"
        )
    settings = _settings(request)
    factory = request.app.state.session_factory
    client_id = assertions.claimed_client(client_assertion)
    with session_scope(factory) as session:
        keys = service.client_keys(session, client_id)
    # The JWKS URL is read with no transaction open.
    jwks = keys.jwks or assertions.fetch_jwks(
        str(keys.jwks_url),
        cache_seconds=settings.oauth.jwks_cache_seconds,
        timeout=settings.oauth.jwks_timeout_seconds,
    )
    checked = assertions.verify(
        client_assertion,
        jwks,
        client_id=client_id,
        audience=settings.base_url.rstrip("/") + "/oauth/token",
        max_seconds=settings.oauth.assertion_max_seconds,
    )
    with session_scope(factory) as session:
        body = service.issue_token(session, checked, scope=scope, settings=settings)
    return JSONResponse(body, headers=NO_STORE)


@router.get("/.well-known/jwks.json")
def jwks(request: Request, session: DbSession) -> dict[str, Any]:
    """The public keys that verify Socle's access tokens (several around a rotation)."""
    oauth = _settings(request).oauth
    return published_jwks(
        session, rotation_days=oauth.key_rotation_days, token_ttl=oauth.token_ttl_seconds
    )


@router.get("/.well-known/smart-configuration")
def smart_configuration(request: Request) -> dict[str, Any]:
    """SMART Backend Services discovery: where and how to get a token."""
    base = _settings(request).base_url.rstrip("/")
    return {
        "issuer": base,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "token_endpoint": f"{base}/oauth/token",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": assertions.ALGORITHMS,
        "access_token_signing_alg_values_supported": [ALG],
        "scopes_supported": list(SCOPES),
        "capabilities": ["client-confidential-asymmetric"],
    }
