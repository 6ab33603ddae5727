"""INSi searches forwarded to another process over a Unix socket (referentials/core/delegate.py).

Two real servers on one database: the "worker" on TCP, which cannot reach INSi at all, and the
"INSi process" on a Unix socket, which reaches the mock teleservice. A search that succeeds
through the worker was therefore made by the other process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from referentials.app import create_app
from referentials.core.settings import Settings
from referentials.insi_gateway import mock_config
from soap_clients.insi.mock import create_mock_app
from tests.conftest import Api, ThreadedServer, closed_port

IDS = "/api/v1/identities"
ADRUN = {
    "birth_name": "ADRUN",
    "first_names": ["ZOE"],
    "sex": "F",
    "birth_date": "1975-12-31",
    "birth_place_code": "63220",
}


@pytest.fixture()
def pair(
    db_settings: Settings, tmp_path: Path, keys: dict[str, str]
) -> Iterator[tuple[Api, ThreadedServer]]:
    """The worker's API, and the INSi process it forwards to (running)."""
    socket_path = tmp_path / "insi.sock"
    with ThreadedServer(create_mock_app(mock_config(db_settings))) as mock:
        searching = db_settings.insi.model_copy(
            update={"endpoint": f"{mock.url}/", "mock_enabled": False, "retries": 0}
        )
        # The worker's own INSi is out of reach: a search it made itself would answer 503.
        unreachable = searching.model_copy(
            update={
                "endpoint": f"http://127.0.0.1:{closed_port()}/",
                "delegate_socket": str(socket_path),
            }
        )
        insi_app = create_app(db_settings.model_copy(update={"insi": searching}))
        worker_app = create_app(db_settings.model_copy(update={"insi": unreachable}))
        # As `socle serve` runs it: it trusts the caller's address the worker sends.
        insi_server = ThreadedServer(
            insi_app, uds=socket_path, proxy_headers=True, forwarded_allow_ips="*"
        )
        with insi_server as insi_process, ThreadedServer(worker_app) as w:
            api = Api(w.url, keys)
            try:
                yield api, insi_process
            finally:
                api.client.close()


def test_a_search_is_made_by_the_other_process_and_answered_as_it_answered(
    pair: tuple[Api, ThreadedServer],
) -> None:
    api, _ = pair
    created = api.post(IDS, json=ADRUN).json()
    response = api.post(f"{IDS}/{created['id']}/insi-search", key="identity:write")
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "applied"
    # The worker's own server headers only, once each; the other process's pass through.
    for name in ("date", "server", "content-length", "x-content-type-options"):
        assert len(response.headers.get_list(name)) == 1, name
    assert api.get(f"{IDS}/{created['id']}", key="vigilance").json()["status"] == "RECUP"
    # The call history is a plain read, served by the worker from the shared database.
    calls = api.get(f"{IDS}/{created['id']}/insi-calls", key="vigilance").json()
    assert [c["outcome"] for c in calls] == ["applied"]


def test_the_other_process_applies_its_checks_to_what_it_is_sent(
    pair: tuple[Api, ThreadedServer],
) -> None:
    api, _ = pair
    created = api.post(IDS, json=ADRUN).json()
    search = f"{IDS}/{created['id']}/insi-search"
    assert api.post(search, key=None).status_code == 401
    assert api.post(search, key="identity:read").status_code == 403
    # A body above the cap, streamed through the worker, is refused where it is served.
    huge = b"{" + b" " * 3_000_000 + b"}"
    response = api.post(search, content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "payload_too_large"
    # A body sent in chunks (no length) arrives whole: here it is read and found invalid.
    chunks = iter([b'{"matricule": ', b'"123"}'])
    vitale = api.post(
        f"{IDS}/{created['id']}/insi-vitale",
        content=chunks,
        headers={"content-type": "application/json"},
    )
    assert vitale.status_code == 422, vitale.text
    assert "matricule" in vitale.text
    unknown = api.post(f"{IDS}/999999/insi-search")
    assert unknown.status_code == 404 and unknown.json()["error"] == "identity_not_found"


def test_while_the_other_process_is_away_the_worker_serves_the_search_itself(
    pair: tuple[Api, ThreadedServer],
) -> None:
    api, insi_process = pair
    created = api.post(IDS, json=ADRUN).json()
    insi_process.__exit__()
    response = api.post(f"{IDS}/{created['id']}/insi-search", key="identity:write")
    # Served here, where INSi is out of reach: the worker's own answer, not a forwarding error.
    assert response.status_code == 503, response.text
    assert "INSi" in response.json()["detail"]
    calls = api.get(f"{IDS}/{created['id']}/insi-calls", key="vigilance").json()
    assert calls == []
