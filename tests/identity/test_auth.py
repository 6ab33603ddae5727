"""The authorisation matrix of the identity routes, and the public routes."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.factories import identity_body

ROUTES = [
    ("POST", "/api/v1/identities", "identity:write"),
    ("GET", "/api/v1/identities?birth_name=X", "identity:read"),
    ("GET", "/api/v1/identities/{id}", "identity:read"),
    ("PATCH", "/api/v1/identities/{id}", "identity:write"),
    ("POST", "/api/v1/identities/{id}/validation", "identity:write"),
    ("POST", "/api/v1/identities/{id}/attributes", "identity:write"),
    ("DELETE", "/api/v1/identities/{id}/attributes/HOMA", "identity:write"),
    ("GET", "/api/v1/identities/{id}/history", "identity:read"),
    ("GET", "/api/v1/events", "identity:read"),
]
OTHER_SCOPES = ["identity:read", "identity:write", "identity:merge", "directory:read", "ror:read"]


def _call(api: Api, method: str, path: str, key: str | None, ident: int) -> int:
    path = path.format(id=ident)
    body = None
    if method == "POST" and path.endswith("identities"):
        body = identity_body()
    elif path.endswith("validation"):
        body = {"document_type": "PA"}
    elif path.endswith("attributes"):
        body = {"code": "HOMA"}
    elif method == "PATCH":
        body = {"used_name": "X"}
    headers = {"If-Match": "2"} if method == "PATCH" else None
    return api.request(method, path, key=key, json=body, headers=headers).status_code


def _fresh_identity(api: Api) -> int:
    ident = int(api.post("/api/v1/identities", json=identity_body(birth_name="Zed")).json()["id"])
    api.post(f"/api/v1/identities/{ident}/attributes", json={"code": "HOMA"})
    return ident


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_route_needs_a_key_and_its_scope(api: Api, method: str, path: str, scope: str) -> None:
    ident = _fresh_identity(api)
    assert _call(api, method, path, None, ident) == 401
    assert _call(api, method, path, "sk_not_a_key", ident) == 401
    for other in OTHER_SCOPES:
        if other != scope:
            assert _call(api, method, path, other, ident) == 403, other
    for allowed in (scope, "admin"):
        ident = _fresh_identity(api)
        status = _call(api, method, path, allowed, ident)
        assert status in (200, 201), (allowed, status)


def test_health_and_docs_are_public(api: Api) -> None:
    assert api.get("/health", key=None).json()["status"] == "ok"
    assert api.get("/docs", key=None).status_code == 200
    spec = api.get("/openapi.json", key=None).json()
    assert "/api/v1/identities" in spec["paths"]


def test_error_shape_for_missing_key(api: Api) -> None:
    body = api.get("/api/v1/identities/1", key=None).json()
    assert body["error"] == "unauthorized" and "Bearer" in body["detail"]
