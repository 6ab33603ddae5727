"""The pages: security headers, session cookie flags, CSRF on every form post."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.orm import Session, sessionmaker

from referentials.core.db import session_scope
from referentials.core.login import CSP
from referentials.core.web import create_user
from tests.conftest import Api, ThreadedServer
from tests.reliability.conftest import ServeApp

PASSWORD = "correct horse battery"


def _login(client: httpx.Client) -> httpx.Response:
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, page.text
    form = {"username": "officer1", "password": PASSWORD, "csrf": token.group(1), "next": "/ui/"}
    return client.post("/login", data=form)


def _officer(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as sess:
        create_user(sess, username="officer1", password=PASSWORD, roles=["officer"])


def test_pages_carry_the_security_headers(api: Api) -> None:
    page = api.get("/login", key=None)
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in page.text
    # JSON answers get nosniff too, but no page policy.
    assert api.get("/health", key=None).headers["x-content-type-options"] == "nosniff"


def test_session_cookie_is_httponly_and_samesite_strict(
    live_app: ThreadedServer, session_factory: sessionmaker[Session]
) -> None:
    _officer(session_factory)
    with httpx.Client(base_url=live_app.url) as client:
        response = _login(client)
        assert response.status_code == 303
        cookie = response.headers["set-cookie"].lower()
        assert "socle_session=" in cookie and "httponly" in cookie
        assert "samesite=strict" in cookie and "secure" not in cookie
        assert client.get("/ui/duplicates").status_code == 200


def test_secure_cookies_setting_adds_the_secure_flag(serve_app: ServeApp) -> None:
    with serve_app(secure_cookies=True) as server, httpx.Client(base_url=server.url) as client:
        cookie = client.get("/login").headers["set-cookie"].lower()
        assert "; secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_form_posts_without_the_csrf_token_are_refused(
    live_app: ThreadedServer, session_factory: sessionmaker[Session]
) -> None:
    _officer(session_factory)
    with httpx.Client(base_url=live_app.url) as client:
        assert _login(client).status_code == 303
        forged = client.post("/logout", data={"csrf": "forged"})
        assert forged.status_code == 403 and "expired" in forged.json()["detail"]
        # Still logged in: the forged post did nothing.
        assert client.get("/ui/duplicates").status_code == 200
        bad_login = client.post("/login", data={"username": "officer1", "password": PASSWORD})
        assert bad_login.status_code == 403


def test_login_does_not_redirect_off_site(
    live_app: ThreadedServer, session_factory: sessionmaker[Session]
) -> None:
    _officer(session_factory)
    with httpx.Client(base_url=live_app.url) as client:
        page = client.get("/login", params={"next": "//evil.example/"})
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        form = {"username": "officer1", "password": PASSWORD, "csrf": token.group(1)}
        response = client.post("/login", data={**form, "next": "//evil.example/"})
        assert response.status_code == 303 and response.headers["location"] == "/ui/"
