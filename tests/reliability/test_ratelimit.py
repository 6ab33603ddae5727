"""The rate limit is keyed on the authenticated key: invented bearer values share one small
bucket per client address, and spelling one key differently does not give it a new bucket."""

from __future__ import annotations

import secrets

import httpx

from tests.conftest import Api
from tests.reliability.conftest import ServeApp

EVENTS = "/api/v1/events"


def _get(url: str, authorization: str | None) -> int:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return httpx.get(url + EVENTS, headers=headers, timeout=10).status_code


def test_random_keys_share_one_small_bucket_per_address(
    serve_app: ServeApp, keys: dict[str, str]
) -> None:
    limits = {"unknown_rate_per_minute": 6, "unknown_burst": 4}
    with serve_app(limits=limits) as server:
        # A known key, once found (its first request spends one token of the address),
        # keeps its own budget whatever the address's bucket holds.
        assert _get(server.url, f"Bearer {keys['identity:read']}") == 200
        invented = [_get(server.url, f"Bearer sk_{secrets.token_urlsafe(32)}") for _ in range(5)]
        assert invented == [401, 401, 401, 429, 429]
        assert _get(server.url, None) == 429
        assert _get(server.url, "Basic dXNlcjpwYXNz") == 429
        assert [_get(server.url, f"Bearer {keys['identity:read']}") for _ in range(3)] == [200] * 3


def test_one_key_spelled_differently_keeps_one_bucket(
    serve_app: ServeApp, keys: dict[str, str]
) -> None:
    key = keys["identity:read"]
    with serve_app(limits={"rate_per_minute": 6, "rate_burst": 3}) as server:
        spellings = [f"Bearer {key}", f"bearer {key}", f"Bearer  {key}", f"BEARER {key}"]
        assert [_get(server.url, s) for s in spellings] == [200, 200, 200, 429]
        # Another key has its own bucket.
        assert Api(server.url, keys).get(EVENTS, key="all").status_code == 200
