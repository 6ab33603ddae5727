"""The identity-vigilance pages: access, CSRF, headers over HTTP; the officer's work in Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from identity.pages import charts
from identity.referential.models import DuplicatePair, Identity
from referentials.core.db import session_scope
from referentials.core.web import create_user
from tests.browser import chromium, csrf_of, login_client, login_page
from tests.conftest import Api, ThreadedServer
from tests.factories import identity_body

PASSWORD = "correct-horse-battery"
PAGES = ("/ui/duplicates", "/ui/duplicates/1", "/ui/identities/1", "/ui/merges", "/ui/indicators")


def _user(factory: sessionmaker[Session], username: str, roles: list[str]) -> None:
    with session_scope(factory) as session:
        create_user(session, username=username, password=PASSWORD, roles=roles)


def _pair(api: Api) -> dict[str, Any]:
    """Two records of one patient typed by two establishments: the queue holds their pair."""
    for name, first, source in (
        ("Lefebvre", ["Marie", "Claire"], {"finess": "690999016", "local_id": "A-1"}),
        ("Lefèvre", ["Marie"], {"finess": "670999911", "local_id": "B-1"}),
    ):
        response = api.post(
            "/api/v1/identities",
            json=identity_body(birth_name=name, first_names=first, source=source),
        )
        assert response.status_code in (200, 201), response.text
    pairs = api.get("/api/v1/duplicates", key="vigilance").json()
    assert pairs["total"] == 1
    pair: dict[str, Any] = pairs["items"][0]
    return pair


def _status(factory: sessionmaker[Session], pair_id: int) -> str:
    with session_scope(factory) as session:
        pair = session.get(DuplicatePair, pair_id)
        assert pair is not None
        return pair.status


@pytest.fixture()
def officer(
    live_app: ThreadedServer, session_factory: sessionmaker[Session]
) -> Iterator[httpx.Client]:
    _user(session_factory, "alice", ["officer"])
    with login_client(live_app.url, "alice", PASSWORD) as client:
        yield client


def test_pages_send_anonymous_visitors_to_login(live_app: ThreadedServer) -> None:
    with httpx.Client(base_url=live_app.url) as client:
        for path in PAGES:
            response = client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=/ui/"), path
        assert client.get("/ui/").headers["location"] == "/ui/duplicates"


def test_pages_need_the_officer_role_admin_passes(
    live_app: ThreadedServer, session_factory: sessionmaker[Session]
) -> None:
    _user(session_factory, "rory", ["ror"])
    _user(session_factory, "root", ["admin"])
    with login_client(live_app.url, "rory", PASSWORD) as ror:
        for path in ("/ui/duplicates", "/ui/merges", "/ui/indicators"):
            assert ror.get(path).status_code == 403, path
        assert ror.post("/ui/merges/1/undo", data={"csrf": "x"}).status_code == 403
    with login_client(live_app.url, "root", PASSWORD) as admin:
        assert admin.get("/ui/duplicates").status_code == 200


def test_security_headers_on_pages(officer: httpx.Client) -> None:
    for path in ("/ui/duplicates", "/ui/merges", "/ui/indicators"):
        response = officer.get(path)
        assert response.status_code == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        assert "<script" not in response.text


def test_posts_without_the_right_csrf_token_change_nothing(
    api: Api, officer: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    pair = _pair(api)
    url = f"/ui/duplicates/{pair['id']}"
    for data in ({"decision": "merge"}, {"decision": "merge", "csrf": "forged"}):
        assert officer.post(f"{url}/decision", data=data).status_code == 403
        assert officer.post(f"{url}/claim", data=data).status_code == 403
        assert officer.post(f"{url}/comments", data={**data, "text": "x"}).status_code == 403
    assert _status(session_factory, pair["id"]) == "pending"
    detail = api.get(f"/api/v1/duplicates/{pair['id']}", key="vigilance").json()
    assert detail["claimed_by"] is None and detail["comments"] == []


def test_a_rule_refusal_is_shown_on_the_page_and_rolled_back(
    api: Api, officer: httpx.Client, session_factory: sessionmaker[Session]
) -> None:
    pair = _pair(api)
    api.post(f"/api/v1/identities/{pair['right_id']}/attributes", json={"code": "DOUT"})
    url = f"/ui/duplicates/{pair['id']}"
    page = officer.get(url)
    assert 'name="confirm_flagged"' in page.text
    # The pair is closed before the merge checks the flag: the refusal must undo the close.
    form = {"decision": "merge", "csrf": csrf_of(page.text), "reason": "même patiente"}
    refused = officer.post(f"{url}/decision", data=form)
    assert refused.status_code == 409 and "même patiente</textarea>" in refused.text
    assert "Action refusée" in refused.text and "cochez la confirmation" in refused.text
    assert "Traceback" not in refused.text
    assert _status(session_factory, pair["id"]) == "pending"
    api.post(f"/api/v1/duplicates/{pair['id']}/claim", key="vigilance")
    held = officer.post(
        f"{url}/decision", data={"decision": "not_duplicate", "csrf": csrf_of(page.text)}
    )
    assert held.status_code == 409 and "vigilance" in held.text


def test_queue_filters_and_counts(api: Api, officer: httpx.Client) -> None:
    pair = _pair(api)
    page = officer.get("/ui/duplicates").text
    assert f'href="/ui/duplicates/{pair["id"]}"' in page
    assert "1 paire(s)" in page
    assert "1 paire(s)" in officer.get("/ui/duplicates?finess=670999911&sort=score").text
    assert "0 paire(s)" in officer.get("/ui/duplicates?finess=750000000").text
    assert "0 paire(s)" in officer.get("/ui/duplicates?older_than_days=3").text
    assert "0 paire(s)" in officer.get("/ui/duplicates?min_score=999").text
    assert "pas un nombre" in officer.get("/ui/duplicates?min_score=abc").text


def test_contribution_bars_colour_weights_by_sign() -> None:
    svg = str(
        charts.contribution_bars(
            "Explication <paire>",
            [charts.Bar("Nom", "identique", 6.5), charts.Bar("Sexe", "différent", -3.0)],
        )
    )
    assert svg.startswith("<svg") and "<title>Explication &lt;paire&gt;</title>" in svg
    assert f'fill="{charts.FOR}"' in svg and f'fill="{charts.AGAINST}"' in svg
    assert "Nom : identique" in svg and "-3.0" in svg


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def _merge_through_the_pages(page: Page, base_url: str, pair: dict[str, Any], shots: Path) -> int:
    login_page(page, base_url, "alice", PASSWORD)
    expect(page.get_by_role("heading", name="File des doublons")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Aller au contenu")).to_be_focused()
    page.get_by_role("link", name=f"Paire n°{pair['id']}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Paire n°{pair['id']}")
    assert page.locator("td.diff").count() >= 2
    assert page.locator("svg.chart rect").count() >= 3
    expect(page.locator("input[name=survivor_id]:checked")).to_have_count(1)
    page.get_by_role("button", name="Réserver la paire").click()
    expect(page.get_by_text("Réservée par user:alice")).to_be_visible()
    page.get_by_label("Ajouter un commentaire").fill("Même IPP de naissance, vérifié.")
    page.get_by_role("button", name="Commenter").click()
    expect(page.get_by_text("Même IPP de naissance, vérifié.")).to_be_visible()
    page.screenshot(path=shots / "pair.png", full_page=True)
    page.get_by_label("Motif").fill("Même personne, orthographe du nom")
    page.get_by_role("button", name="Fusionner").click()
    expect(page.get_by_role("status")).to_contain_text("Fusion enregistrée")
    found = re.search(r"merge=(\d+)", page.url)
    assert found, page.url
    return int(found.group(1))


@pytest.mark.browser
def test_officer_merges_a_pair_then_undoes_it(
    page: Page,
    api: Api,
    live_app: ThreadedServer,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    _user(session_factory, "alice", ["officer"])
    pair = _pair(api)
    merge_id = _merge_through_the_pages(page, live_app.url, pair, tmp_path)
    assert _status(session_factory, pair["id"]) == "merged"
    page.get_by_role("link", name="Historique des fusions", exact=True).click()
    row = page.locator(f"#fusion-{merge_id}")
    expect(row).to_contain_text("En vigueur")
    loser = api.get(f"/api/v1/merges/{merge_id}", key="vigilance").json()["loser_id"]
    row.get_by_role("link", name=f"Identité n°{loser}").click()
    expect(page.get_by_text("Identité inactive")).to_be_visible()
    page.go_back()
    page.get_by_label("Motif de l'annulation").fill("Erreur : deux personnes")
    page.screenshot(path=tmp_path / "merges.png", full_page=True)
    page.get_by_role("button", name="Annuler la fusion").click()
    expect(page.get_by_role("status")).to_contain_text("Fusion annulée")
    expect(page.locator(f"#fusion-{merge_id}")).to_contain_text("Annulée")
    with session_scope(session_factory) as session:
        restored = session.get(Identity, loser)
        assert restored is not None and restored.active and restored.merged_into_id is None
    assert _status(session_factory, pair["id"]) == "pending"
    page.goto(f"{live_app.url}/ui/identities/{loser}")
    expect(page.get_by_role("cell", name="unmerged")).to_be_visible()
    page.screenshot(path=tmp_path / "identity.png", full_page=True)


@pytest.mark.browser
def test_indicators_page_draws_its_charts(
    page: Page,
    api: Api,
    live_app: ThreadedServer,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    _user(session_factory, "alice", ["officer"])
    pair = _pair(api)
    decision = {"decision": "merge", "reason": "test"}
    api.post(f"/api/v1/duplicates/{pair['id']}/decision", key="vigilance", json=decision)
    login_page(page, live_app.url, "alice", PASSWORD)
    page.goto(f"{live_app.url}/ui/indicators")
    expect(page.get_by_role("heading", name="Indicateurs d'identitovigilance")).to_be_visible()
    assert page.locator("main svg[role=img]").count() == 5
    expect(page.locator("svg title").first).to_have_text("Identités actives par statut")
    weeks = page.get_by_role("table", name="Fusions et annulations par semaine")
    assert weeks.locator("tbody tr").count() == 12
    expect(weeks.locator("tbody tr").last).to_contain_text("1")
    # The merged pair is this week's only decision: its band shows 100 % observed precision.
    precision = page.get_by_role("table", name="Précision observée par niveau et par semaine")
    assert precision.locator("tbody tr").count() == 12
    expect(precision.locator("tbody tr").last).to_contain_text("100,0 %")
    expect(precision.locator("tbody tr").first).to_contain_text("—")
    page.screenshot(path=tmp_path / "indicators.png", full_page=True)
    page.goto(f"{live_app.url}/ui/duplicates?status=all")
    page.screenshot(path=tmp_path / "queue.png", full_page=True)


def test_officers_reads_are_recorded_like_api_reads(api: Api, officer: httpx.Client) -> None:
    pair = _pair(api)
    assert officer.get(f"/ui/identities/{pair['left_id']}").status_code == 200
    assert officer.get(f"/ui/duplicates/{pair['id']}").status_code == 200
    trail = api.get("/api/v1/audit", key="admin", params={"actor": "user:alice"}).json()
    seen = [(e["entity_id"], e["action"], e["purpose"]) for e in trail["items"]]
    left, right = str(pair["left_id"]), str(pair["right_id"])
    assert seen.count((left, "read", "identitovigilance")) == 2
    assert (right, "read", "identitovigilance") in seen
