"""One sign-in through the test provider over HTTP, as a browser would follow it."""

from __future__ import annotations

import re

import httpx

from tests.referentials.psc.conftest import World

_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def sign_in(
    world: World, client: httpx.Client | None = None
) -> tuple[httpx.Client, httpx.Response]:
    """Start at Socle, confirm at the provider, come back: Socle's answer to the callback."""
    client = client or httpx.Client(base_url=world.app.url, timeout=30)
    start = client.get("/login/psc", params={"next": "/ui/duplicates"})
    assert start.status_code == 303, start.text
    authorize = start.headers["location"]
    assert authorize.startswith(world.provider.url)
    page = httpx.get(authorize, timeout=30)
    assert page.status_code == 200, page.text
    fields = {k: v.replace("&amp;", "&") for k, v in _HIDDEN.findall(page.text)}
    approved = httpx.post(authorize.split("?")[0], data=fields, timeout=30)
    assert approved.status_code == 303
    callback = approved.headers["location"]
    assert callback.startswith(f"{world.app.url}/login/psc/callback?")
    return client, client.get(callback)
