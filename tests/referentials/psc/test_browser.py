"""In Chromium: an officer signs in through the provider, works a pair, signs out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from referentials.core.audit import AuditEntry
from referentials.core.db import session_scope
from tests.browser import chromium
from tests.conftest import Api
from tests.referentials.psc.conftest import LEONIE, World
from tests.reliability.world import new_pair


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


@pytest.mark.browser
def test_an_officer_signs_in_with_psc_works_a_pair_and_signs_out(
    world: World, api: Api, page: Page
) -> None:
    pair_id, _, _ = new_pair(api)
    page.goto(f"{world.app.url}/ui/duplicates")
    # Sent to the login page, which offers PSC only (local logins are off here).
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    expect(page.get_by_label("Mot de passe")).to_have_count(0)
    page.get_by_role("link", name="Se connecter avec Pro Santé Connect").click()
    expect(page.get_by_text("e-CPS de Léonie EXEMPLE-MARCOUX")).to_be_visible()
    page.get_by_role("button", name="Valider").click()
    expect(page.get_by_role("heading", name="File des doublons")).to_be_visible()
    expect(page.locator("header .who")).to_have_text("Léonie EXEMPLE-MARCOUX — Médecin")
    page.get_by_role("link", name=f"Paire n°{pair_id}").click()
    page.get_by_role("button", name="Réserver la paire").click()
    expect(page.get_by_text(f"Réservée par user:psc:{LEONIE}")).to_be_visible()
    page.get_by_label("Motif").fill("Même personne, vérifiée au guichet")
    page.get_by_role("button", name="Fusionner").click()
    expect(page.get_by_role("status")).to_contain_text("Fusion enregistrée")
    page.get_by_role("button", name="Se déconnecter").click()
    # Back from the provider's logout on the login page, signed out of both.
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    assert page.url == f"{world.app.url}/login"
    assert world.provider.logouts and world.provider.logouts[0]["client_id"] == "socle-test"
    page.goto(f"{world.app.url}/ui/duplicates")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    with session_scope(world.factory) as session:
        actions = set(
            session.scalars(
                select(AuditEntry.action).where(AuditEntry.actor == f"user:psc:{LEONIE}")
            )
        )
    assert {"sign_in", "read", "decision_merged", "merged_into"} <= actions, actions
