"""A write transaction only writes: scoring comes before it, and writers share the feed relay."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import matcher
from identity.referential import feed, service
from identity.referential.schemas import IdentityCreate, IdentityUpdate
from referentials.core.auth import SYSTEM
from referentials.core.db import session_scope
from tests.conftest import Api
from tests.factories import identity_body

IDS = "/api/v1/identities"


def _write_lock_free(engine: Engine) -> bool:
    """Whether another connection may start writing now (SQLite's one writer's lock)."""
    database = engine.url.database
    assert database
    other = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


@pytest.fixture()
def scoring_probe(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Records, at each scoring, whether SQLite's write lock was free."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single writer's lock")
    seen: list[bool] = []
    real = matcher.score_against

    def probed(*args: Any, **kw: Any) -> Any:
        seen.append(_write_lock_free(engine))
        return real(*args, **kw)

    monkeypatch.setattr(matcher, "score_against", probed)
    yield seen


def test_a_creation_scores_its_duplicates_before_taking_the_write_lock(
    session_factory: sessionmaker[Session], scoring_probe: list[bool]
) -> None:
    with session_scope(session_factory) as session:
        service.create(session, SYSTEM, data=IdentityCreate.model_validate(identity_body()))
    with session_scope(session_factory) as session:
        outcome = service.create(
            session, SYSTEM, data=IdentityCreate.model_validate(identity_body(sex="F"))
        )
        assert outcome.duplicates, "the second creation has a candidate to score"
    assert scoring_probe == [True]


def test_an_update_scores_before_taking_the_write_lock(
    session_factory: sessionmaker[Session], scoring_probe: list[bool]
) -> None:
    with session_scope(session_factory) as session:
        first = service.create(session, SYSTEM, data=IdentityCreate.model_validate(identity_body()))
        other = service.create(
            session,
            SYSTEM,
            data=IdentityCreate.model_validate(identity_body(birth_name="Autre", sex="M")),
        )
    scoring_probe.clear()
    with session_scope(session_factory) as session:
        service.update(
            session,
            SYSTEM,
            other.identity.id,
            data=IdentityUpdate(birth_name="Lefebvre", sex="F"),
            expected_version=other.identity.version,
        )
    assert first.identity.id and scoring_probe == [True]


def test_writers_that_commit_together_share_a_relay_and_answer_with_their_event(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Updates (any writer not held to the matching threads) that commit together share one
    relay; each answers once the feed holds its event."""
    made = [api.post(IDS, json=identity_body(birth_name=f"Relais{chr(65 + n)}")) for n in range(12)]
    assert all(m.status_code == 201 for m in made), [m.text for m in made]
    relays: list[int] = []
    real: Callable[[Engine], int] = feed.relay_now

    def slow_relay(engine: Engine) -> int:
        relays.append(1)
        time.sleep(0.2)  # writers that commit meanwhile wait for the next relay
        return real(engine)

    monkeypatch.setattr(feed, "relay_now", slow_relay)
    start = threading.Barrier(12)

    def update(n: int) -> tuple[int, list[int]]:
        identity = made[n].json()
        start.wait()
        changed = api.patch(
            f"{IDS}/{identity['id']}",
            json={"used_name": f"Usage{chr(65 + n)}"},
            headers={"If-Match": str(identity["version"])},
        )
        assert changed.status_code == 200, changed.text
        # Right after the answer, the feed already holds the update.
        page = api.get("/api/v1/events", params={"after": 0, "limit": 1000}).json()
        return identity["id"], [
            e["identity_id"] for e in page["items"] if e["type"] == "identity.updated"
        ]

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(update, range(12)))
    for identity_id, in_feed in results:
        assert identity_id in in_feed
    assert 0 < len(relays) < 12


def test_a_creation_answers_once_the_feed_holds_its_event(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creations run in the matching threads and relay there: each answer still comes after
    its event has its cursor."""
    real: Callable[[Engine], int] = feed.relay_now

    def slow_relay(engine: Engine) -> int:
        time.sleep(0.05)
        return real(engine)

    monkeypatch.setattr(feed, "relay_now", slow_relay)

    def create(n: int) -> tuple[int, list[int]]:
        made = api.post(IDS, json=identity_body(birth_name=f"Curseur{chr(65 + n)}"))
        assert made.status_code == 201, made.text
        page = api.get("/api/v1/events", params={"after": 0, "limit": 1000}).json()
        return made.json()["id"], [e["identity_id"] for e in page["items"]]

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(create, range(6)))
    for identity_id, in_feed in results:
        assert identity_id in in_feed
