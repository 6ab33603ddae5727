"""Matches and creations (REST and HL7 v2) run in a few threads of each process; reads are not
held back by them.

A real server and its own engine: every transaction a request thread opens is watched (the
engine's begin and commit events), and made to last a little, so that requests sent together
overlap for as long as the server lets them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event

from referentials.app import create_app
from referentials.core.settings import Settings
from tests.conftest import Api, ThreadedServer
from tests.factories import identity_body
from tests.identity.test_hl7v2 import ER7, sample

IDS = "/api/v1/identities"
THREADS = 2
CALLS = 12


class Overlap:
    """The most request threads inside a transaction at once (anyio's threads: the requests')."""

    def __init__(self, engine: Engine) -> None:
        self.inside: set[int] = set()
        self.most = 0
        self.lock = threading.Lock()
        self.watching = False
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "commit", self._end)
        event.listen(engine, "rollback", self._end)

    def _begin(self, _connection: Any) -> None:
        if not self.watching or not threading.current_thread().name.startswith("AnyIO"):
            return
        with self.lock:
            self.inside.add(threading.get_ident())
            self.most = max(self.most, len(self.inside))
        time.sleep(0.05)  # long enough for every request sent with this one to reach a thread

    def _end(self, _connection: Any) -> None:
        with self.lock:
            self.inside.discard(threading.get_ident())

    def during(self, send: Callable[[], int]) -> tuple[int, list[int]]:
        self.most, self.watching = 0, True
        try:
            with ThreadPoolExecutor(CALLS) as pool:
                codes = list(pool.map(lambda _: send(), range(CALLS)))
        finally:
            self.watching = False
        return self.most, codes


@pytest.fixture()
def served(db_settings: Settings) -> Iterator[tuple[ThreadedServer, Overlap]]:
    limits = db_settings.limits.model_copy(
        update={"matching_threads": THREADS, "rate_per_minute": 0}
    )
    app = create_app(db_settings.model_copy(update={"limits": limits}))
    overlap = Overlap(app.state.engine)
    with ThreadedServer(app) as server:
        yield server, overlap


def test_matches_and_creations_run_in_the_matching_threads_only_and_reads_beside_them(
    served: tuple[ThreadedServer, Overlap], keys: dict[str, str]
) -> None:
    server, overlap = served
    api = Api(server.url, keys)
    created = api.post(IDS, json=identity_body(birth_name="Fileattente"))
    assert created.status_code == 201, created.text
    identity_id = created.json()["id"]
    headers = {"Authorization": f"Bearer {keys['all']}"}
    query = {"birth_name": "FILEATTENTE", "first_names": ["HELENE"], "sex": "F"}

    def match() -> int:
        answer = httpx.post(f"{server.url}{IDS}/match", json=query, headers=headers, timeout=60)
        found = [c["identity"]["id"] for c in answer.json()] if answer.is_success else []
        return answer.status_code if identity_id in found else -1

    most, codes = overlap.during(match)
    assert codes == [200] * CALLS, "every match waited for a thread, none was refused"
    assert most == THREADS, f"{most} matches at once in one process"

    resource = {
        "resourceType": "Patient",
        "name": [{"family": "Fileattente", "given": ["Hélène"]}],
        "gender": "female",
        "birthDate": "1980-05-17",
    }
    fhir_match = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": resource}],
    }

    def fhir() -> int:
        answer = httpx.post(
            f"{server.url}/fhir/Patient/$match",
            json=fhir_match,
            headers={**headers, "Content-Type": "application/fhir+json"},
            timeout=60,
        )
        found = [e["resource"]["id"] for e in answer.json().get("entry", [])]
        return answer.status_code if str(identity_id) in found else -1

    most, codes = overlap.during(fhir)
    assert codes == [200] * CALLS
    assert most == THREADS, f"{most} FHIR matches at once in one process"

    def create() -> int:
        # Each its own person, nobody's duplicate: every creation is made.
        body = identity_body(birth_name=f"Concurrent{next(names)}", birth_date="1990-01-01")
        return httpx.post(f"{server.url}{IDS}", json=body, headers=headers, timeout=60).status_code

    names = iter("ABCDEFGHIJKLMNOP")
    most, codes = overlap.during(create)
    assert codes == [201] * CALLS
    assert most == THREADS, f"{most} creations at once in one process"

    def read() -> int:
        return httpx.get(
            f"{server.url}{IDS}/{identity_id}", headers=headers, timeout=60
        ).status_code

    most, codes = overlap.during(read)
    assert codes == [200] * CALLS
    assert most > THREADS, "reads do not wait for the matching threads"
    api.client.close()


def test_hl7_messages_run_in_the_matching_threads_only(
    served: tuple[ThreadedServer, Overlap], keys: dict[str, str]
) -> None:
    server, overlap = served
    headers = {"Authorization": f"Bearer {keys['identity:write']}", **ER7}
    letters = iter("ABCDEFGHIJKLMNOP")

    def send() -> int:
        # Each an A28 of its own local id and person: every message creates an identity.
        n = next(letters)
        body = sample("a28_create.hl7", **{"IPP-1001": f"IPP-9{n}", "ADRUN^": f"ADRUN{n}^"})
        answer = httpx.post(f"{server.url}/api/v1/hl7v2", content=body, headers=headers, timeout=60)
        return answer.status_code if answer.headers.get("X-HL7-Ack-Code") == "AA" else -1

    most, codes = overlap.during(send)
    assert codes == [200] * CALLS, "every message was applied (ACK AA)"
    assert most == THREADS, f"{most} HL7 messages at once in one process"
