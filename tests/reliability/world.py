"""Builders of real records over HTTP (with the all-scopes key), for the route-wide tests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from tests.conftest import Api
from tests.factories import identity_body

_names = itertools.count(1)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def unique_name() -> str:
    """A birth name no other test record carries (letters only, as the RNIV rules want)."""
    n, out = next(_names), ""
    while True:
        n, rest = divmod(n, 26)
        out += LETTERS[rest]
        if n == 0:
            return "Testa" + out.lower()


def new_identity(api: Api, **overrides: Any) -> dict[str, Any]:
    body = identity_body(birth_name=unique_name(), **overrides)
    response = api.post("/api/v1/identities", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def new_pair(api: Api) -> tuple[int, int, int]:
    """Two records of one person: a pending pair (pair id, left id, right id)."""
    name = unique_name()
    first = api.post("/api/v1/identities", json=identity_body(birth_name=name)).json()
    second = api.post("/api/v1/identities", json=identity_body(birth_name=name)).json()
    pairs = api.get("/api/v1/duplicates", params={"limit": 500}).json()["items"]
    ids = {first["id"], second["id"]}
    for pair in pairs:
        if {pair["left_id"], pair["right_id"]} == ids:
            return int(pair["id"]), int(pair["left_id"]), int(pair["right_id"])
    raise AssertionError(f"no pair queued for {ids}: {pairs}")


def new_merge(api: Api) -> int:
    pair_id, _, _ = new_pair(api)
    response = api.post(f"/api/v1/duplicates/{pair_id}/decision", json={"decision": "merge"})
    assert response.status_code == 200, response.text
    return int(response.json()["merge_id"])


@dataclass
class Call:
    """One request: path (filled), JSON body, extra headers, query parameters."""

    path: str
    json: Any = None
    headers: dict[str, str] | None = None
    params: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    content: bytes | None = None

    def send(self, api: Api, method: str, key: str | None) -> int:
        extra: dict[str, Any] = {"json": self.json}
        if self.data is not None:
            extra = {"data": self.data}
        elif self.content is not None:
            extra = {"content": self.content}
        return api.request(
            method, self.path, key=key, headers=self.headers, params=self.params, **extra
        ).status_code
