"""The duplicate check's reads: key blocks, match rows, and identities read as plain rows.

The match answer shows identities read as plain rows (no ORM object): they must show exactly
what the loaded objects show, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import matcher
from identity.duplicates import service as duplicates
from identity.referential import presenter, repository
from identity.referential.models import Identity, MatchKey, SourceRecord
from identity.referential.schemas import IdentityCreate, MatchRequest
from identity.referential.service import create
from matching.records import IdentityRecord
from referentials.core.auth import SYSTEM, Principal
from referentials.core.db import session_scope
from tests.factories import identity_body

FRONT_DESK = Principal(
    key_id=7, client_name="desk", finess=None, scopes=frozenset({"identity:read"})
)
VIGILANCE = Principal(
    key_id=8, client_name="iv", finess=None, scopes=frozenset({"identity:read", "identity:merge"})
)


def _create(session: Session, **overrides: object) -> int:
    body = IdentityCreate.model_validate(identity_body(**overrides))
    return create(session, SYSTEM, data=body).identity.id


def test_key_blocks_hold_the_oldest_identities_of_each_key(
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as session:
        ids = [_create(session, first_names=[name]) for name in ("Anne", "Lise", "Rose", "Zoé")]
        rows = [{"identity_id": i, "key": "test:shared"} for i in reversed(ids)]
        rows.append({"identity_id": ids[2], "key": "test:alone"})
        session.execute(insert(MatchKey), rows)
    with session_scope(session_factory) as session:
        blocks = repository.key_blocks(session, ["test:shared", "test:alone", "test:none"], 3)
        assert blocks == {
            "test:shared": set(ids[:3]),
            "test:alone": {ids[2]},
            "test:none": set(),
        }
        assert repository.key_blocks(session, [], 3) == {}


def test_match_rows_leave_out_inactive_identities(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        kept = _create(session, first_names=["Anne"])
        merged = _create(session, first_names=["Lise"])
        loser = session.get(Identity, merged)
        assert loser is not None
        loser.active, loser.merged_into_id = False, kept
    with session_scope(session_factory) as session:
        rows = repository.match_rows(session, {kept, merged, 10_000_000})
        assert [(r.id, r.birth_name, r.first_names) for r in rows] == [(kept, "LEFEBVRE", "ANNE")]
        assert repository.match_rows(session, set()) == []


def _varied_identities(factory: sessionmaker[Session]) -> list[int]:
    """Identities with none, one and several local ids, an INS (qualified or not), attributes,
    a used name, a merged one: every field the answer shows takes a value somewhere."""
    with session_scope(factory) as session:
        plain = _create(session)
        one = _create(session, first_names=["Anne"], used_name="Durand", used_first_name="Annie")
        several = _create(session, first_names=["Lise", "Marie"], birth_place_code=None)
        qualified = _create(session, first_names=["Rose"])
        merged = _create(session, first_names=["Zoé"])
        for identity_id, finess, local_id in [
            (one, "130000001", "A1"),
            (several, "690000002", "B2"),
            (several, "130000001", "A0"),
            (several, "750000003", "C3"),
        ]:
            session.add(SourceRecord(identity_id=identity_id, finess=finess, local_id=local_id))
        now = datetime.now(UTC)
        for identity_id, status in [(qualified, "QUAL"), (several, "RECUP")]:
            identity = session.get(Identity, identity_id)
            assert identity is not None
            identity.status, identity.ins_retrieved_at = status, now
            identity.ins_matricule, identity.ins_oid = "275126322074974", "1.2.250.1.213.1.4.8"
            identity.ins_history = [{"matricule": "175126322074911", "oid": "1.2.250.1.213.1.4.8"}]
            identity.ins_collection_method = "INSI"
        attributed = session.get(Identity, one)
        assert attributed is not None
        attributed.attributes = "DOUT,HOMA"
        loser = session.get(Identity, merged)
        assert loser is not None
        loser.active, loser.merged_into_id = False, plain
    return [plain, one, several, qualified, merged]


def test_identity_rows_show_what_the_loaded_identities_show(
    session_factory: sessionmaker[Session],
) -> None:
    ids = _varied_identities(session_factory)
    with session_scope(session_factory) as session:
        rows = repository.identity_rows(session, [*ids, 10_000_000])
        objects = repository.identities_by_id(session, ids)
        assert set(rows) == set(ids)
        for identity_id in ids:
            for principal in (FRONT_DESK, VIGILANCE):
                shown = presenter.to_read(rows[identity_id], principal)
                assert shown == presenter.to_read(objects[identity_id], principal)
        # Local ids in the order they were recorded, as the relationship orders them.
        assert [s.local_id for s in rows[ids[2]].sources] == ["B2", "A0", "C3"]
        assert rows[ids[0]].sources == []
        assert repository.identity_rows(session, []) == {}


def test_match_answer_from_rows_equals_the_one_from_objects(
    session_factory: sessionmaker[Session],
) -> None:
    _varied_identities(session_factory)
    with session_scope(session_factory) as session:
        _create(session, first_names=["Rose", "Anne"])  # one more likely duplicate of Rose
    request = MatchRequest(
        birth_name="Lefèbvre", first_names=["Rose"], sex="F", birth_date="1980-05-17"
    )  # type: ignore[arg-type]
    with session_scope(session_factory) as session:
        rows = duplicates.match_rows(session, request, 10)
        objects = duplicates.match_traits(session, request, 10)
    assert len(rows) >= 2
    assert [c.pair for c in rows] == [c.pair for c in objects]
    for principal in (FRONT_DESK, VIGILANCE):
        assert [presenter.to_candidate(c, principal) for c in rows] == [
            presenter.to_candidate(c, principal) for c in objects
        ]


def test_rank_is_the_order_find_loads(session_factory: sessionmaker[Session]) -> None:
    _varied_identities(session_factory)
    query = IdentityRecord(
        id="q", birth_name="LEFEBVRE", first_names=("HELENE",), sex="F", birth_date="1980-05-17"
    )
    model, config = matcher.load_model(), duplicates.current().config
    with session_scope(session_factory) as session:
        pairs = matcher.rank(session, query, model=model, config=config, limit=2)
        found = matcher.find(session, query, model=model, config=config, limit=2)
    assert pairs and [p.right_id for p in pairs] == [str(c.identity.id) for c in found]
    assert all(a.score >= b.score for a, b in pairwise(pairs))


def test_bulk_key_blocks_read_beside_are_the_blocks_read_alone(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bulk load's key blocks with a second connection (PostgreSQL: half of the keys read
    on it from a thread) are each key's oldest ids in order, as one connection reads them; the
    second connection is left with no transaction open."""
    from identity.imports import repository as reads

    with session_scope(session_factory) as session:
        ids = [_create(session, first_names=[n]) for n in ("Anne", "Lise", "Rose", "Zoé", "Ève")]
        rows = [{"identity_id": i, "key": f"test:k{k}"} for k in range(6) for i in ids[k % 3 :]]
        session.execute(insert(MatchKey), rows)
    keys = [f"test:k{k}" for k in range(6)] + ["test:none"]
    apart: list[int] = []
    read_apart = reads._raw_apart

    def recorded(connection: Connection, *args: Any) -> Any:
        apart.append(len(args[1][1]))  # the keys it read
        return read_apart(connection, *args)

    monkeypatch.setattr(reads, "_raw_apart", recorded)
    engine = session_factory.kw["bind"]
    with session_scope(session_factory) as session, engine.connect() as beside:
        alone = reads.key_blocks(session, keys, 3)
        together = reads.key_blocks(session, keys, 3, beside)
        assert not beside.in_transaction()
    assert alone == {f"test:k{k}": ids[k % 3 :][:3] for k in range(6)}
    assert together == alone
    # Half of the keys went to the second connection (PostgreSQL only: on SQLite two threads
    # read no faster, it is not used).
    assert apart == ([4] if engine.dialect.name == "postgresql" else [])
