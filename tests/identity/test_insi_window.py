"""Nothing is held while INSi answers, and an answer is never applied blindly to a changed identity.

A port wrapped around the real gateway runs other requests *during* the INSi call, over HTTP:
with a transaction or a lock held across the call they would wait (or time out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import Api, ThreadedServer
from tests.factories import identity_body

IDS = "/api/v1/identities"


class _DuringCall:
    """The app's INSi port, with a hook run while each call is in flight."""

    def __init__(self, inner: Any, hook: Callable[[], None]) -> None:
        self.inner, self.hook = inner, hook

    def search_by_traits(self, *args: Any, **kw: Any) -> Any:
        self.hook()
        return self.inner.search_by_traits(*args, **kw)

    def search_by_carte_vitale(self, *args: Any, **kw: Any) -> Any:
        self.hook()
        return self.inner.search_by_carte_vitale(*args, **kw)


@pytest.fixture()
def during_call(live_app: ThreadedServer) -> Iterator[Callable[[Callable[[], None]], None]]:
    original = live_app.app.state.insi

    def install(hook: Callable[[], None]) -> None:
        live_app.app.state.insi = _DuringCall(original, hook)

    yield install
    live_app.app.state.insi = original


def _adrun(api: Api) -> dict[str, Any]:
    body = {
        "birth_name": "Adrun",
        "first_names": ["Zoé"],
        "sex": "F",
        "birth_date": "1975-12-31",
        "birth_place_code": "63220",
    }
    response = api.post(IDS, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_other_callers_write_and_read_while_insi_answers(
    api: Api, during_call: Callable[[Callable[[], None]], None]
) -> None:
    target, other = _adrun(api), _adrun(api)
    seen: list[int] = []

    def hook() -> None:
        # A short timeout: a lock held by the searching request would make these wait.
        made = api.post(IDS, json=identity_body(birth_name="Pendant"), timeout=3)
        patched = api.patch(
            f"{IDS}/{other['id']}",
            json={"used_name": "Durant"},
            headers={"If-Match": str(other["version"])},
            timeout=3,
        )
        read = api.get(f"{IDS}/{other['id']}", timeout=3)
        seen.extend([made.status_code, patched.status_code, read.status_code])

    during_call(hook)
    response = api.post(f"{IDS}/{target['id']}/insi-search")
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "applied"
    assert seen == [201, 200, 200]


def test_a_strict_trait_changed_during_the_call_refuses_the_answer_and_keeps_the_call(
    api: Api, during_call: Callable[[Callable[[], None]], None]
) -> None:
    created = _adrun(api)

    def hook() -> None:
        changed = api.patch(
            f"{IDS}/{created['id']}",
            json={"birth_date": "1975-12-30"},
            headers={"If-Match": str(created["version"])},
            timeout=3,
        )
        assert changed.status_code == 200, changed.text

    during_call(hook)
    response = api.post(f"{IDS}/{created['id']}/insi-search")
    assert response.status_code == 409, response.text
    assert "changed while INSi was answering" in response.json()["detail"]
    after = api.get(f"{IDS}/{created['id']}", key="vigilance").json()
    assert after["status"] == "PROV" and after["ins"] is None
    assert after["birth_date"] == "1975-12-30"
    calls = api.get(f"{IDS}/{created['id']}/insi-calls").json()
    assert [(c["cr_code"], c["outcome"]) for c in calls] == [("00", "stale")]


def test_a_change_that_keeps_the_sent_traits_is_re_evaluated_and_applied(
    api: Api, during_call: Callable[[Callable[[], None]], None]
) -> None:
    created = _adrun(api)

    def hook() -> None:
        changed = api.patch(
            f"{IDS}/{created['id']}",
            json={"used_name": "Martin"},
            headers={"If-Match": str(created["version"])},
            timeout=3,
        )
        assert changed.status_code == 200, changed.text

    during_call(hook)
    response = api.post(f"{IDS}/{created['id']}/insi-vitale", json={"matricule": "275126322074974"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["identity"]["status"] == "RECUP" and body["identity"]["used_name"] == "MARTIN"
    assert body["identity"]["version"] == created["version"] + 2
    calls = api.get(f"{IDS}/{created['id']}/insi-calls").json()
    assert [c["outcome"] for c in calls] == ["applied"]


def test_insi_create_holds_nothing_while_insi_answers(
    api: Api, during_call: Callable[[Callable[[], None]], None]
) -> None:
    seen: list[int] = []

    def hook() -> None:
        made = api.post(IDS, json=identity_body(birth_name="Pendant"), timeout=3)
        seen.append(made.status_code)

    during_call(hook)
    body = {
        "birth_name": "corse",
        "first_names": ["anthony"],
        "sex": "M",
        "birth_date": "1980-03-02",
    }
    response = api.post(f"{IDS}/insi-create", json=body)
    assert response.status_code == 201, response.text
    assert seen == [201]


def test_an_answer_that_changes_nothing_waits_for_no_lock_on_the_identity(
    api: Api, during_call: Callable[[Callable[[], None]], None], engine: Engine
) -> None:
    """A CR 01 only adds its call record: a transaction updating the row does not stall it.

    On PostgreSQL another transaction holds the lock an update of the identity's row takes
    (FOR NO KEY UPDATE), from during the call until the answer is back. A search that locked
    the row to apply its answer would wait for it; the call record's foreign key only needs
    the key share, which that lock leaves free. On SQLite a read takes no lock at all.
    """
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite locks the whole file, for writes only)")
    unknown = api.post(IDS, json=identity_body(birth_name="Inconnue")).json()
    holder = engine.connect()
    holding = holder.begin()

    def hook() -> None:
        holder.execute(
            text("SELECT id FROM identities WHERE id = :id FOR NO KEY UPDATE"),
            {"id": unknown["id"]},
        )

    during_call(hook)
    try:
        # Waiting for the held row would run into the timeout.
        response = api.post(f"{IDS}/{unknown['id']}/insi-search", timeout=5)
    finally:
        holding.rollback()
        holder.close()
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "not_found"
    assert response.json()["identity"]["version"] == unknown["version"]
    calls = api.get(f"{IDS}/{unknown['id']}/insi-calls").json()
    # One call per given name tried: each unknown, none applied.
    assert calls and {(c["cr_code"], c["outcome"]) for c in calls} == {("01", "not_found")}
