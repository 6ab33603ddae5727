"""OAuth 2 client credentials with private_key_jwt: tokens, their use, and every refusal."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from joserfc import jws
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from referentials.app import create_app
from referentials.core.audit import AuditEntry
from referentials.core.auth import ApiKey, create_api_key
from referentials.core.db import session_scope
from referentials.core.oauth import service
from referentials.core.oauth.keys import published_jwks, sign_access_token, verify_access_token
from referentials.core.settings import Settings
from referentials.core.usage import ApiUsage, flush_all
from tests.cli import socle
from tests.conftest import ThreadedServer, free_port
from tests.factories import identity_body
from tests.referentials.oauth.conftest import Client, new_key, public_jwks

Register = Callable[..., Client]
RW = ["identity:read", "identity:write"]


def _token(http: httpx.Client, client: Client, **extra: str) -> str:
    answer = http.post("/oauth/token", data=client.form(**extra))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 300
    assert answer.headers["cache-control"] == "no-store"
    return str(body["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_client_calls_rest_and_fhir_with_its_token(
    http: httpx.Client, register: Register, session_factory: sessionmaker[Session]
) -> None:
    client = register(RW, kind="EC")
    token = _token(http, client)
    created = http.post(
        "/api/v1/identities", json=identity_body(birth_name="Jetonnier"), headers=_bearer(token)
    )
    assert created.status_code == 201, created.text
    fhir = http.get("/fhir/Patient", params={"family": "Jetonnier"}, headers=_bearer(token))
    assert fhir.status_code == 200 and fhir.json()["total"] == 1
    # The token carries the key's scopes, no more.
    lacking = http.get("/api/v1/directory/professionals", headers=_bearer(token))
    assert lacking.status_code == 403 and "directory:read" in lacking.json()["detail"]
    flush_all()  # usage counts are written by each process every few seconds
    with session_scope(session_factory) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "create"))
        assert entry is not None and entry.actor_key_id == client.key_id
        usage = session.scalars(select(ApiUsage).where(ApiUsage.key_id == client.key_id))
        calls = {u.area: (u.calls, u.finess) for u in usage}
    assert calls == {"identity": (2, "690999016")}


def test_a_token_can_carry_fewer_scopes_than_the_key(
    http: httpx.Client, register: Register
) -> None:
    client = register(RW)
    token = _token(http, client, scope="identity:read")
    body = identity_body(birth_name="Lecteur")
    refused = http.post("/api/v1/identities", json=body, headers=_bearer(token))
    assert refused.status_code == 403
    more = http.post("/oauth/token", data=client.form(scope="identity:read admin"))
    assert more.status_code == 403
    assert more.json()["error"] == "invalid_scope" and "admin" in more.json()["detail"]


def _refusal(http: httpx.Client, form: dict[str, str]) -> dict[str, Any]:
    answer = http.post("/oauth/token", data=form)
    assert answer.status_code == 401, answer.text
    body: dict[str, Any] = answer.json()
    assert body["error"] == "invalid_client"
    return body


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "https://elsewhere.example/oauth/token"}, "wrong audience"),
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"exp": int(time.time()) + 3600}, "lives longer than 300 s"),
        ({"sub": "someone-else"}, "wrong or missing claim 'sub'"),
        ({"jti": ""}, "wrong or missing claim 'jti'"),
    ],
)
def test_a_wrong_assertion_is_refused(
    http: httpx.Client, register: Register, changes: dict[str, Any], reason: str
) -> None:
    client = register(RW)
    body = _refusal(http, client.form(client.assertion(**changes)))
    assert reason in body["detail"], body


def test_an_assertion_signed_by_another_key_is_refused(
    http: httpx.Client, register: Register
) -> None:
    client = register(RW)
    intruder = new_key()
    body = _refusal(http, client.form(client.assertion(signing_key=intruder)))
    assert "bad signature" in body["detail"]


def test_a_replayed_assertion_is_refused(http: httpx.Client, register: Register) -> None:
    client = register(RW)
    assertion = client.assertion()
    assert http.post("/oauth/token", data=client.form(assertion)).status_code == 200
    body = _refusal(http, client.form(assertion))
    assert "replayed jti" in body["detail"]


def test_unknown_and_revoked_clients_are_refused(
    http: httpx.Client, register: Register, session_factory: sessionmaker[Session]
) -> None:
    client = register(RW)
    stranger = Client("oc_nobody", client.key, client.key_id, client.token_url)
    assert "unknown or revoked" in _refusal(http, stranger.form())["detail"]
    token = _token(http, client)
    with session_scope(session_factory) as session:
        service.revoke_client(session, client.client_id)
    assert "unknown or revoked" in _refusal(http, client.form())["detail"]
    # A token issued before the revocation is refused from the next request.
    late = http.get("/api/v1/identities", params={"birth_name": "X"}, headers=_bearer(token))
    assert late.status_code == 401 and "revoked" in late.json()["detail"]


def test_revoking_the_api_key_stops_its_tokens(
    http: httpx.Client, register: Register, session_factory: sessionmaker[Session]
) -> None:
    client = register(RW)
    token = _token(http, client)
    with session_scope(session_factory) as session:
        key = session.get(ApiKey, client.key_id)
        assert key is not None
        key.revoked = True
    answer = http.get("/api/v1/identities", params={"birth_name": "X"}, headers=_bearer(token))
    assert answer.status_code == 401


def test_a_replaced_key_takes_its_token_clients_along(
    http: httpx.Client,
    register: Register,
    session_factory: sessionmaker[Session],
    db_settings: Settings,
) -> None:
    client = register(RW)
    replaced = socle(db_settings, "apikey", "replace", str(client.key_id), "--json")
    assert replaced.returncode == 0, replaced.stderr
    body = json.loads(replaced.stdout)
    assert body["oauth_clients"] == [client.client_id]
    assert f"OAuth client(s) {client.client_id} now act as key {body['id']}" in replaced.stderr
    revoked = socle(db_settings, "apikey", "revoke", str(client.key_id))
    assert revoked.returncode == 0 and "OAuth" not in revoked.stderr, revoked.stderr
    # The client goes on with its own key pair, now acting as the new key.
    token = _token(http, client)
    answer = http.get("/api/v1/identities", params={"birth_name": "X"}, headers=_bearer(token))
    assert answer.status_code == 200, answer.text
    # Revoking the key it acts as now warns of it.
    last = socle(db_settings, "apikey", "revoke", str(body["id"]))
    said = " ".join(last.stderr.split())
    assert f"warning: OAuth client(s) {client.client_id} act as this key" in said


def test_bad_requests_to_the_token_endpoint(http: httpx.Client, register: Register) -> None:
    client = register(RW)
    wrong_grant = http.post("/oauth/token", data={**client.form(), "grant_type": "password"})
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
    wrong_type = {**client.form(), "client_assertion_type": "urn:x"}
    assert "client_assertion_type" in _refusal(http, wrong_type)["detail"]
    assert "not a JWT" in _refusal(http, client.form("not-a-jwt"))["detail"]


def test_forged_and_expired_access_tokens_are_refused(
    http: httpx.Client,
    register: Register,
    token_server: ThreadedServer,
    session_factory: sessionmaker[Session],
) -> None:
    client = register(RW)
    head, payload, signature = _token(http, client).split(".")
    forged = f"{head}.{payload}.{signature[:-6]}AAAAAA"
    answer = http.get("/api/v1/identities", params={"birth_name": "X"}, headers=_bearer(forged))
    assert answer.status_code == 401 and "bad signature" in answer.json()["detail"]
    with session_scope(session_factory) as session:
        claims = {
            "iss": token_server.url,
            "aud": token_server.url,
            "sub": client.client_id,
            "scope": "identity:read",
        }
        old = sign_access_token(session, claims, rotation_days=30, ttl=-120)
        other = sign_access_token(
            session, {**claims, "aud": "https://other.example"}, rotation_days=30, ttl=60
        )
    for token, reason in ((old, "expired"), (other, "wrong audience")):
        answer = http.get("/api/v1/identities", params={"birth_name": "X"}, headers=_bearer(token))
        assert answer.status_code == 401 and reason in answer.json()["detail"], answer.text


def test_a_client_publishing_its_keys_at_a_url(http: httpx.Client, register: Register) -> None:
    from fastapi import FastAPI

    key = new_key("EC")
    jwks_app = FastAPI()
    jwks_app.get("/jwks.json")(lambda: public_jwks(key))
    with ThreadedServer(jwks_app) as published:
        client = register(RW, key=key, jwks_url=f"{published.url}/jwks.json")
        token = _token(http, client)
    answer = http.get("/api/v1/identities", params={"birth_name": "X"}, headers=_bearer(token))
    assert answer.status_code == 200


def test_jwks_and_discovery_documents(http: httpx.Client, register: Register) -> None:
    client = register(RW)
    token = _token(http, client)
    jwks = http.get("/.well-known/jwks.json").json()
    header_kid = jws.extract_compact(token.encode()).headers()["kid"]
    assert header_kid in {k["kid"] for k in jwks["keys"]}
    assert all("d" not in k for k in jwks["keys"]), "a private part was published"
    smart = http.get("/.well-known/smart-configuration").json()
    assert smart["token_endpoint"] == client.token_url
    assert smart["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]


def test_signing_keys_rotate_and_old_tokens_still_verify(session: Session) -> None:
    claims = {"iss": "https://socle.example", "aud": "https://socle.example", "sub": "oc_x"}
    # A rotation of zero days: every token gets a new key.
    first = sign_access_token(session, claims, rotation_days=0, ttl=300)
    second = sign_access_token(session, claims, rotation_days=0, ttl=300)
    kids = [jws.extract_compact(t.encode()).headers()["kid"] for t in (first, second)]
    assert kids[0] != kids[1]
    published = published_jwks(session, rotation_days=0, token_ttl=300)
    assert set(kids) <= {k["kid"] for k in published["keys"]}
    for token in (first, second):
        assert verify_access_token(session, token, issuer="https://socle.example")["sub"] == "oc_x"
    # With the usual rotation, the newest key keeps signing.
    third = sign_access_token(session, claims, rotation_days=30, ttl=300)
    assert jws.extract_compact(third.encode()).headers()["kid"] == kids[1]


def test_openapi_and_capability_statement_declare_both_schemes(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    flow = schemes["OAuth2ClientCredentials"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/token" and "identity:read" in flow["scopes"]
    search = spec["paths"]["/api/v1/identities"]["get"]["security"]
    assert {"HTTPBearer": []} in search and {"OAuth2ClientCredentials": []} in search
    security = http.get("/fhir/metadata").json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = security["extension"][0]["extension"]
    token_url = str(http.base_url).rstrip("/") + "/oauth/token"
    assert uris == [{"url": "token", "valueUri": token_url}]


def test_the_rate_limit_counts_a_clients_tokens_as_one_key(
    db_settings: Settings, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    limits = db_settings.limits.model_copy(update={"rate_per_minute": 60, "rate_burst": 3})
    settings = db_settings.model_copy(
        update={"host": "127.0.0.1", "port": port, "base_url": url, "limits": limits}
    )
    key = new_key()
    with session_scope(session_factory) as session:
        api_key, _ = create_api_key(session, client_name="busy", scopes=["identity:read"])
        registered = service.register_client(session, api_key_id=api_key.id, jwks=public_jwks(key))
        client = Client(registered.client_id, key, api_key.id, f"{url}/oauth/token")
    search = {"birth_name": "X"}
    with ThreadedServer(create_app(settings), port=port), httpx.Client(base_url=url) as http:
        first, second = _token(http, client), _token(http, client)
        assert first != second
        statuses = [
            http.get("/api/v1/identities", params=search, headers=_bearer(t)).status_code
            for t in (first, first, second, second)
        ]
    # A fresh token does not open a fresh bucket: the fourth call is over the burst of three.
    assert statuses == [200, 200, 200, 429]
