"""The ROR dashboard and the e-parcours page: access over HTTP, content in Chromium."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.db import session_scope
from referentials.core.web import create_user
from tests.browser import chromium, login_client, login_page
from tests.conftest import ThreadedServer

PASSWORD = "correct-horse-battery"
pytestmark = pytest.mark.usefixtures("rules_loaded")


def _user(factory: sessionmaker[Session], username: str, roles: list[str]) -> None:
    with session_scope(factory) as session:
        create_user(session, username=username, password=PASSWORD, roles=roles)


def test_pages_need_a_user_with_the_ror_role(
    live_app: ThreadedServer, session_factory: sessionmaker[Session]
) -> None:
    anonymous = httpx.get(f"{live_app.url}/ui/ror", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 307) and "/login" in anonymous.headers["location"]
    _user(session_factory, "olga", ["officer"])
    with login_client(live_app.url, "olga", PASSWORD) as client:
        assert client.get("/ui/ror").status_code == 403
        assert client.get("/ui/e-parcours").status_code == 403


def test_csv_of_the_e_parcours_page(
    live_app: ThreadedServer, session_factory: sessionmaker[Session]
) -> None:
    _user(session_factory, "rosa", ["ror"])
    with login_client(live_app.url, "rosa", PASSWORD) as client:
        response = client.get("/ui/e-parcours.csv", params={"quarter": "2026-Q4"})
        assert response.headers["content-type"].startswith("text/csv")
        assert response.text.startswith("quarter;indicator;numerator")
        assert client.get("/ui/e-parcours", params={"quarter": "Q4"}).status_code == 422


@pytest.mark.browser
def test_dashboard_and_e_parcours_in_chromium(
    live_app: ThreadedServer, session_factory: sessionmaker[Session]
) -> None:
    _user(session_factory, "rosa", ["ror"])
    with chromium() as browser:
        page = browser.new_page()
        login_page(page, live_app.url, "rosa", PASSWORD)
        page.goto(f"{live_app.url}/ui/ror")
        expect(page.get_by_role("heading", name="Peuplement du ROR")).to_be_visible()
        # One bar per sector; a target line for the three sectors that have one.
        expect(page.locator("svg.sector-bars g.bar")).to_have_count(5)
        expect(page.locator("svg.sector-bars line.target")).to_have_count(3)
        row = page.locator('#sector-table tr[data-sector="sanitaire"]')
        expect(row).to_contain_text("30,0 %")
        expect(row).to_contain_text("95 %")
        expect(row).to_contain_text("7 structure(s)")
        expect(page.locator("svg.trend polyline.series")).to_have_count(5)
        to_complete = page.locator('table.to-complete[data-department="69"]')
        expect(to_complete).to_contain_text("âge minimum et maximum")
        expect(to_complete).to_contain_text("Aucune unité élémentaire ouverte dans le ROR")
        page.get_by_label("Région (code INSEE)").fill("11")
        page.get_by_role("button", name="Afficher").click()
        expect(page.locator('table.to-complete[data-department="69"]')).to_have_count(0)
        expect(page.locator('table.to-complete[data-department="75"]')).to_be_visible()

        page.goto(f"{live_app.url}/ui/e-parcours?quarter=2026-Q4")
        expect(page.get_by_role("heading", name="Indicateurs d'usage e-parcours")).to_be_visible()
        expect(page.locator("#usage-table tbody tr")).to_have_count(3)
        expect(page.locator('#completeness-table tr[data-sector="medico_social"]')).to_contain_text(
            "3 / 7"
        )
        expect(page.get_by_role("link", name="Exporter en CSV")).to_be_visible()
