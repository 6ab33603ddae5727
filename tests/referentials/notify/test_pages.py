"""The notifications page in Chromium: subscribers with their lag, a dead letter redelivered."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.auth import create_api_key, revoke_api_key
from referentials.core.db import session_scope
from referentials.core.notify.models import Delivery
from referentials.core.notify.worker import drain
from referentials.core.web import create_user
from tests.browser import chromium, login_client, login_page
from tests.conftest import ThreadedServer
from tests.referentials.notify.conftest import FAST, create_identity, subscribe
from tests.referentials.notify.receiver import Receiver

PASSWORD = "correct-horse-battery"


def _user(factory: sessionmaker[Session], username: str, roles: list[str]) -> None:
    with session_scope(factory) as session:
        create_user(session, username=username, password=PASSWORD, roles=roles)


def test_the_page_needs_the_admin_role(
    live_app: ThreadedServer, session_factory: sessionmaker[Session]
) -> None:
    anonymous = httpx.get(f"{live_app.url}/ui/notifications", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 307) and "/login" in anonymous.headers["location"]
    _user(session_factory, "olga", ["officer"])
    with login_client(live_app.url, "olga", PASSWORD) as client:
        assert client.get("/ui/notifications").status_code == 403
        refused = client.post(
            "/ui/notifications/deliveries/1/redeliver", data={"subscription_id": "1", "csrf": "x"}
        )
        assert refused.status_code == 403


def test_an_admin_sees_the_lag_and_redelivers_a_dead_letter(
    live_app: ThreadedServer,
    session_factory: sessionmaker[Session],
    engine: Engine,
    receiver: Receiver,
) -> None:
    _user(session_factory, "ada", ["admin"])
    sub_id, _ = subscribe(session_factory, receiver.url, client="hub", description="DPI Lyon")
    down = Receiver()
    down.down()
    late_id, _ = subscribe(session_factory, down.url, client="late")
    # A subscriber whose client's only key was revoked since: silent, and the page says why.
    with session_scope(session_factory) as session:
        key, _ = create_api_key(session, client_name="gone", scopes=["identity:merge"])
    gone_id, _ = subscribe(session_factory, receiver.url, client="gone", key=False)
    with session_scope(session_factory) as session:
        revoke_api_key(session, key.id)
    identity_id = create_identity(session_factory)
    receiver.status = 400  # refused for good: a dead letter
    drain(engine, FAST, timeout=3)
    with session_scope(session_factory) as session:
        dead = session.query(Delivery).filter_by(subscription_id=sub_id).one()
        assert dead.status == "dead"

    receiver.status = 200
    with chromium() as browser:
        page = browser.new_page()
        login_page(page, live_app.url, "ada", PASSWORD)
        page.goto(f"{live_app.url}/ui/notifications")
        expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
        expect(page.locator(f"#subscription-{sub_id}")).to_contain_text("DPI Lyon")
        expect(page.locator(f"#subscription-{sub_id} .state")).to_have_text("Actif")
        gone = page.locator(f"#subscription-{gone_id} .state")
        expect(gone).to_contain_text("Muet")
        expect(gone).to_contain_text("no valid API key belongs to the client 'gone'")
        late = page.locator(f"#subscription-{late_id}")
        expect(late.locator(".pending")).to_have_text("1")
        expect(late).to_contain_text("ConnectError")
        assert float(late.locator(".lag").inner_text().split()[0]) > 0
        row = page.locator(f"#delivery-{dead.id}")
        expect(row).to_contain_text("HTTP 400")
        expect(row).to_contain_text("receiver says no")
        row.get_by_role("button", name="Renvoyer").click()
        page.wait_for_load_state()
        expect(page.get_by_role("status")).to_contain_text(f"n°{dead.id}")
        expect(page.locator(f"#delivery-{dead.id}")).to_have_count(0)
    drain(engine, FAST, timeout=3)
    [got] = receiver.events()
    assert got["data"]["identity_id"] == identity_id
    assert got["id"] == f"identity-{dead.cursor}"
