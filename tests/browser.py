"""Headless Chromium for page tests: Debian's own chromium, never a downloaded browser."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless browser for the duration of the block (skips when chromium is absent)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def login_page(page: Page, base_url: str, username: str, password: str) -> None:
    """Log in through the login form, as a person would."""
    page.goto(f"{base_url}/login")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@contextmanager
def login_client(base_url: str, username: str, password: str) -> Iterator[httpx.Client]:
    """An HTTP client holding a logged-in session cookie."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = csrf_of(client.get("/login").text)
        form = {"username": username, "password": password, "csrf": token, "next": "/"}
        response = client.post("/login", data=form)
        assert response.status_code == 303, response.text
        yield client
