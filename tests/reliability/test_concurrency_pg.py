"""Many concurrent writers on overlapping identities (PostgreSQL): the invariants hold.

Invariants, checked after the run:
- no identity is the loser of two merges in force (merges not undone);
- following ``merged_into`` from any identity ends on an active identity: no cycle;
- an inactive identity is inactive only because a merge in force made it so
  (its ``merged_into`` is that merge's survivor), and every active one has no ``merged_into``;
- every local id (source record) is attached to exactly one identity, and that one is active;
- one audit row per successful operation (and none for the refused ones);
- the event feed is complete and ordered: cursors strictly increase, every successful merge
  and undo has its event, and a reader that followed the feed during the run missed nothing.
Conflicts surface as 409 (or 404 for a pair gone), never as a 5xx or a lost update.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from identity.referential.history import emit
from identity.referential.models import Identity, Merge, SourceRecord
from referentials.core.audit import AuditEntry
from referentials.core.db import utcnow
from referentials.core.principal import SYSTEM
from referentials.core.runs import RunLock
from referentials.core.settings import Settings
from tests.conftest import PG_URL, ROOT, Api, free_port
from tests.factories import identity_body

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (SOCLE_TEST_DATABASE_URL)")
WORKERS, SECONDS, MAX_OPS = 6, 12.0, 40
OK = {200, 201}
REFUSED = {404, 409}


@dataclass
class Tally:
    successes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    merge_ids: set[int] = field(default_factory=set)
    undone_ids: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, op: str, status: int) -> None:
        with self.lock:
            self.statuses[(op, status)] += 1
            if status in OK:
                self.successes[op] += 1


def _population(api: Api) -> list[int]:
    ids = []
    for group in range(3):
        for n in range(4):
            body = identity_body(
                birth_name=f"Concur{'abc'[group]}",
                source={"finess": "690999016", "local_id": f"G{group}-{n}"},
            )
            response = api.post("/api/v1/identities", json=body)
            assert response.status_code == 201, response.text
            ids.append(int(response.json()["id"]))
    return ids


def _merge(api: Api, rng: random.Random, tally: Tally, _ids: list[int]) -> None:
    pairs = api.get("/api/v1/duplicates", key="vigilance", params={"limit": 100}).json()["items"]
    if not pairs:
        return
    pair = rng.choice(pairs)
    response = api.post(
        f"/api/v1/duplicates/{pair['id']}/decision", key="vigilance", json={"decision": "merge"}
    )
    tally.note("merge", response.status_code)
    if response.status_code == 200:
        with tally.lock:
            tally.merge_ids.add(int(response.json()["merge_id"]))


def _undo(api: Api, rng: random.Random, tally: Tally, _ids: list[int]) -> None:
    merges = api.get("/api/v1/merges", key="vigilance", params={"limit": 100}).json()["items"]
    live = [m for m in merges if m["undone_at"] is None]
    if not live:
        return
    merge_id = rng.choice(live)["id"]
    response = api.post(f"/api/v1/merges/{merge_id}/undo", key="vigilance", json={})
    tally.note("undo", response.status_code)
    if response.status_code == 200:
        with tally.lock:
            tally.undone_ids.add(merge_id)


def _update(api: Api, rng: random.Random, tally: Tally, ids: list[int]) -> None:
    ident = rng.choice(ids)
    current = api.get(f"/api/v1/identities/{ident}", key="reader").json()
    response = api.patch(
        f"/api/v1/identities/{ident}",
        key="reader",
        json={"used_name": f"Usage{rng.choice('abcdefgh')}"},
        headers={"If-Match": str(current["version"])},
    )
    tally.note("update", response.status_code)


def _qualify(api: Api, rng: random.Random, tally: Tally, ids: list[int]) -> None:
    ident = rng.choice(ids)
    response = api.post(
        f"/api/v1/identities/{ident}/validation", key="reader", json={"document_type": "PA"}
    )
    tally.note("validate", response.status_code)


OPS = [_merge, _merge, _undo, _update, _update, _qualify]


def _worker(api: Api, seed: int, ids: list[int], tally: Tally, stop: float) -> None:
    rng = random.Random(seed)
    for _ in range(MAX_OPS):
        if time.monotonic() > stop:
            return
        rng.choice(OPS)(api, rng, tally, ids)


def _follow_feed(api: Api, seen: list[int], done: threading.Event) -> None:
    cursor = 0
    while True:
        finished = done.is_set()
        page = api.get("/api/v1/events", params={"after": cursor, "limit": 1000}).json()
        seen.extend(e["cursor"] for e in page["items"])
        cursor = page["next_cursor"]
        if finished and not page["items"]:
            return
        time.sleep(0.02)


def _run(api_factory: Any, ids: list[int]) -> tuple[Tally, list[int]]:
    tally, seen, done = Tally(), list[int](), threading.Event()
    stop = time.monotonic() + SECONDS
    clients = [api_factory() for _ in range(WORKERS + 1)]
    reader = threading.Thread(target=_follow_feed, args=(clients[-1], seen, done))
    reader.start()
    threads = [
        threading.Thread(target=_worker, args=(clients[n], n, ids, tally, stop))
        for n in range(WORKERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 60)
    done.set()
    reader.join(timeout=30)
    for client in clients:
        client.client.close()
    return tally, seen


def _check_identities(session: Session) -> None:
    identities = {i.id: i for i in session.scalars(select(Identity))}
    merges = list(session.scalars(select(Merge)))
    in_force = [m for m in merges if m.undone_at is None]
    losers = Counter(m.loser_id for m in in_force)
    assert [k for k, n in losers.items() if n > 1] == [], "an identity merged twice"
    by_loser = {m.loser_id: m for m in in_force}
    for ident in identities.values():
        if ident.active:
            assert ident.merged_into_id is None, ident.id
            assert ident.id not in by_loser, ident.id
        else:
            assert ident.id in by_loser and by_loser[ident.id].survivor_id == ident.merged_into_id
        hops, current = 0, ident
        while not current.active:
            hops += 1
            assert hops <= len(identities), f"merged_into cycle from {ident.id}"
            current = identities[int(current.merged_into_id or 0)]
    sources = list(session.scalars(select(SourceRecord)))
    assert len({(s.finess, s.local_id) for s in sources}) == len(sources)
    assert all(identities[s.identity_id].active for s in sources)


def _check_audit(session: Session, tally: Tally) -> None:
    actions = Counter(
        session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "identity"))
    )
    assert actions["merged_into"] == actions["merge_survivor"] == tally.successes["merge"]
    assert actions["unmerged"] == actions["unmerge_survivor"] == tally.successes["undo"]
    assert actions["update"] == tally.successes["update"]
    assert actions["validate"] == tally.successes["validate"]


def _check_feed(api: Api, tally: Tally, seen: list[int]) -> None:
    events, cursor = [], 0
    while True:
        page = api.get("/api/v1/events", params={"after": cursor, "limit": 1000}).json()
        if not page["items"]:
            break
        events.extend(page["items"])
        cursor = page["next_cursor"]
    cursors = [e["cursor"] for e in events]
    assert cursors == sorted(set(cursors)), "cursors not strictly increasing"
    assert seen == cursors, "a reader following the feed during the run missed events"
    merged = {e["payload"]["merge_id"] for e in events if e["type"] == "identity.merged"}
    unmerged = {e["payload"]["merge_id"] for e in events if e["type"] == "identity.unmerged"}
    assert merged == tally.merge_ids
    assert unmerged == tally.undone_ids


def test_concurrent_merges_undos_updates_and_checks_keep_the_invariants(
    api: Api, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    base = str(api.client.base_url)
    _run_and_check(api, keys, session_factory, [base])


def test_two_serve_instances_on_one_database_keep_the_invariants(
    api: Api, keys: dict[str, str], session_factory: sessionmaker[Session], db_settings: Settings
) -> None:
    """Requests spread over two `socle serve` processes (one elected scheduler between them)."""
    with _serve(db_settings) as first, _serve(db_settings) as second:
        _run_and_check(api, keys, session_factory, [first, second])
        with session_factory() as session:
            leases = list(
                session.scalars(select(RunLock).where(RunLock.name == "leader:scheduler"))
            )
        assert len(leases) == 1 and leases[0].expires_at > utcnow()


def _run_and_check(
    api: Api, keys: dict[str, str], session_factory: sessionmaker[Session], bases: list[str]
) -> None:
    ids = _population(Api(bases[-1], keys))
    spread = itertools.cycle(bases)
    tally, seen = _run(lambda: Api(next(spread), keys), ids)
    errors = {k: n for k, n in tally.statuses.items() if k[1] not in OK | REFUSED}
    assert errors == {}, f"unexpected statuses: {errors}"
    assert tally.successes["merge"] >= 3 and tally.successes["update"] >= 3, tally.statuses
    with session_factory() as session:
        _check_identities(session)
        _check_audit(session, tally)
    _check_feed(api, tally, seen)


def test_writers_overlap_and_a_follower_still_misses_nothing(
    api: Api, keys: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    """A writer still in flight does not hold the others back, nor hide its event for good."""
    slow = api.post("/api/v1/identities", json=identity_body(birth_name="Lente")).json()
    cursor = _feed_end(api)
    with session_factory() as session:
        # An identity write left open, as a long transaction would be.
        emit(session, SYSTEM, "identity.updated", slow["id"], note="slow writer")
        session.flush()
        quick = api.post("/api/v1/identities", json=identity_body(birth_name="Rapide"), timeout=5)
        assert quick.status_code == 201, quick.text
        page = api.get("/api/v1/events", params={"after": cursor}).json()
        assert [e["identity_id"] for e in page["items"]] == [quick.json()["id"]]
        cursor = page["next_cursor"]
        session.commit()
    page = api.get("/api/v1/events", params={"after": cursor}).json()
    assert [(e["identity_id"], e["type"]) for e in page["items"]] == [
        (slow["id"], "identity.updated")
    ]
    assert page["items"][0]["cursor"] > cursor


def _feed_end(api: Api) -> int:
    cursor = 0
    while True:
        page = api.get("/api/v1/events", params={"after": cursor, "limit": 1000}).json()
        if not page["items"]:
            return cursor
        cursor = page["next_cursor"]


@contextmanager
def _serve(settings: Settings) -> Iterator[str]:
    """A real `socle serve` process on the test database; its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "SOCLE_DATABASE_URL": settings.database_url,
        "SOCLE_DATABASE_SCHEMA": settings.database_schema,
        "SOCLE_LOAD_DEMO_DATA": "false",
        "SOCLE_SCHEDULER__LEADER_LEASE_SECONDS": "2",
    }
    command = [sys.executable, "-m", "referentials.cli", "serve", "--workers", "1"]
    process = subprocess.Popen(
        [*command, "--port", str(port)], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(base):
            assert time.monotonic() < deadline and process.poll() is None, "serve did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
