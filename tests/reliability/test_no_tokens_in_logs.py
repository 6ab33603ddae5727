"""With every logger at DEBUG, no token, assertion, code or secret of a sign-in reaches a log."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.auth import create_api_key
from referentials.core.db import session_scope
from referentials.core.oauth import service
from referentials.core.settings import DirectorySettings, PscSettings, Settings
from referentials.directory import imports
from referentials.psc import service as psc_service
from tests.conftest import ThreadedServer, free_port
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, psc_userinfo
from tests.referentials.oauth.conftest import Client, new_key, public_jwks
from tests.referentials.psc.conftest import LEONIE, RPPS, World
from tests.referentials.psc.flow import sign_in
from tests.reliability.test_no_traits_in_logs import Collect, collecting_server


def _token_flow(server: ThreadedServer, factory: sessionmaker[Session]) -> list[str]:
    key = new_key()
    with session_scope(factory) as session:
        api_key, _ = create_api_key(session, client_name="tool", scopes=["identity:read"])
        registered = service.register_client(session, api_key_id=api_key.id, jwks=public_jwks(key))
        client = Client(registered.client_id, key, api_key.id, f"{server.url}/oauth/token")
    secrets: list[str] = []
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assertion = client.assertion()
        token = http.post("/oauth/token", data=client.form(assertion)).json()["access_token"]
        replayed = http.post("/oauth/token", data=client.form(assertion))
        assert replayed.status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        assert http.get("/fhir/Patient", params={"family": "Xyz"}, headers=auth).status_code == 200
        forged = {"Authorization": f"Bearer {token[:-4]}AAAA"}
        assert http.get("/api/v1/identities", headers=forged).status_code == 401
        secrets += [assertion, assertion.split(".")[2], token, token.split(".")[2]]
    return secrets


def _sign_in_flow(world: World) -> list[str]:
    client, answer = sign_in(world)
    assert answer.status_code == 200, answer.text
    provider = world.provider
    return [
        CLIENT_SECRET,
        *provider.issued,
        *provider.tokens,
        *[t.split(".")[2] for t in provider.issued],
        client.cookies["socle_session"],
    ]


def test_no_token_reaches_any_log(
    db_settings: Settings, engine: Any, session_factory: sessionmaker[Session]
) -> None:
    imports.run(
        engine, session_factory, source="rpps", location=str(RPPS), trigger="test",
        settings=DirectorySettings(),
    )  # fmt: skip
    with session_scope(session_factory) as session:
        psc_service.grant(session, national_id=LEONIE, roles=["officer"])
    port, provider_port = free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    provider = OidcProvider(f"http://127.0.0.1:{provider_port}", (f"{url}/login/psc/callback",))
    provider.user = psc_userinfo(LEONIE, "EXEMPLE-MARCOUX", "Léonie", "10")
    psc = PscSettings(
        discovery_url=f"{provider.url}/.well-known/openid-configuration",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    settings = db_settings.model_copy(
        update={"host": "127.0.0.1", "port": port, "base_url": url, "psc": psc}
    )
    collect: Collect
    with (
        ThreadedServer(provider.app(), port=provider_port),
        collecting_server(settings) as (server, collect),
    ):
        secrets = _token_flow(server, session_factory)
        secrets += _sign_in_flow(World(server, provider, session_factory))
    access = [line for line in collect.lines if line.startswith("uvicorn.access")]
    assert any("POST /oauth/token HTTP" in line for line in access), access[:5]
    assert any("GET /login/psc/callback HTTP" in line for line in access), access[:5]
    leaks = [(s[:12], line) for line in collect.lines for s in secrets if s and s in line]
    assert leaks == [], "\n".join(f"{s}...: {line}" for s, line in leaks)
