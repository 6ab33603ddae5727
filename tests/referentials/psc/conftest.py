"""Sign-in tests: the test OpenID Connect provider and a Socle instance registered with it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from referentials.app import create_app
from referentials.core.db import session_scope
from referentials.core.settings import DirectorySettings, PscSettings, SchedulerSettings, Settings
from referentials.directory import imports
from referentials.directory.models import Professional
from referentials.psc import service as psc_service
from tests.conftest import FIXTURES, ThreadedServer, free_port
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider, psc_userinfo

RPPS = FIXTURES / "directory" / "rpps" / "PS_LibreAcces_Personne_activite_202605040000.txt"
# Léonie EXEMPLE-MARCOUX, médecin at the fictitious hospital 690999016 (in the sample extract).
LEONIE = "819990000028"
# Gaspard MODELE, pharmacien; Noémie SPECIMEN, infirmière at 380999110.
GASPARD, NOEMIE = "819990000044", "819990000036"
UNKNOWN = "819999999999"


@dataclass
class World:
    app: ThreadedServer
    provider: OidcProvider
    factory: sessionmaker[Session]

    def sign_in_as(self, national_id: str, family: str, given: str, profession: str) -> None:
        self.provider.user = psc_userinfo(national_id, family, given, profession)


@pytest.fixture(scope="module")
def servers(db_settings: Settings, engine: Engine) -> Iterator[tuple[ThreadedServer, OidcProvider]]:
    """Socle with PSC pointed at the test provider (both on 127.0.0.1), for the module."""
    app_port, provider_port = free_port(), free_port()
    app_url = f"http://127.0.0.1:{app_port}"
    provider = OidcProvider(
        url=f"http://127.0.0.1:{provider_port}", redirect_uris=(f"{app_url}/login/psc/callback",)
    )
    psc = PscSettings(
        discovery_url=f"{provider.url}/.well-known/openid-configuration",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        required_acr="eidas1",
        local_login=False,
    )
    settings = db_settings.model_copy(
        update={
            "host": "127.0.0.1",
            "port": app_port,
            "base_url": app_url,
            "psc": psc,
            "scheduler": SchedulerSettings(enabled=False),
        }
    )
    with (
        ThreadedServer(provider.app(), port=provider_port),
        ThreadedServer(create_app(settings), port=app_port) as app,
    ):
        yield app, provider


@pytest.fixture()
def world(
    servers: tuple[ThreadedServer, OidcProvider],
    engine: Engine,
    session_factory: sessionmaker[Session],
) -> World:
    """A clean base holding the sample RPPS+ extract; Léonie is granted the officer role."""
    imports.run(
        engine,
        session_factory,
        source="rpps",
        location=str(RPPS),
        trigger="test",
        settings=DirectorySettings(),
    )
    with session_scope(session_factory) as session:
        psc_service.grant(session, national_id=LEONIE, roles=["officer"])
    app, provider = servers
    provider.tamper = None
    provider.issued.clear()
    provider.logouts.clear()
    found = World(app, provider, session_factory)
    found.sign_in_as(LEONIE, "EXEMPLE-MARCOUX", "Léonie", "10")
    return found


def remove_from_directory(factory: sessionmaker[Session], national_id: str) -> None:
    """What a later RPPS+ import does to a professional no longer in the extract."""
    with session_scope(factory) as session:
        session.execute(
            update(Professional).where(Professional.idnps == national_id).values(active=False)
        )


__all__ = ["GASPARD", "LEONIE", "NOEMIE", "UNKNOWN", "World", "remove_from_directory"]
