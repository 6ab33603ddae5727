"""The bulk scan queues exactly what the pair-by-pair scan queues, decisions included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import service as duplicates
from identity.duplicates.service import ScanSummary
from identity.imports import bulk
from identity.imports import scan as bulk_scan
from identity.referential.models import DuplicatePair, Identity
from referentials.core.auth import SYSTEM
from referentials.core.db import session_scope
from tests.conftest import _truncate
from tests.identity.test_bulk_import import LOADED, STORED, _files


def _referential(factory: sessionmaker[Session], tmp_path: Path) -> None:
    """Two files loaded (with their real-time pairs), then officers' decisions on some pairs."""
    stored, loaded = _files(tmp_path)
    bulk.import_file(factory, SYSTEM, stored, finess=STORED)
    bulk.import_file(factory, SYSTEM, loaded, finess=LOADED)
    with session_scope(factory) as s:
        ids = list(s.scalars(select(DuplicatePair.id).order_by(DuplicatePair.id)))
        assert len(ids) > 10
        decided = {
            ids[0]: {"status": "not_duplicate"},  # traits unchanged: the refusal stands
            ids[1]: {"status": "not_duplicate", "signature": "stale"},  # traits changed: reopened
            ids[2]: {"status": "deferred", "score": 0.0},  # open: refreshed
            ids[3]: {"status": "merged"},  # decided: left alone
            ids[4]: {"score": 0.0, "explanation": {}},  # pending: refreshed
        }
        for pair_id, values in decided.items():
            s.execute(update(DuplicatePair).where(DuplicatePair.id == pair_id).values(**values))
        # A merged identity is no longer scanned.
        gone = s.scalars(select(Identity.id).order_by(Identity.id.desc())).first()
        s.execute(update(Identity).where(Identity.id == gone).values(active=False))
        # A pair nobody has seen: the scan must queue it afresh.
        s.execute(DuplicatePair.__table__.delete().where(DuplicatePair.id == ids[5]))


def _state(factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with session_scope(factory) as s:
        return [
            (
                p.id,
                p.left_id,
                p.right_id,
                round(p.score, 9),
                p.band,
                p.explanation,
                p.status,
                p.origin,
                p.establishments,
                p.signature,
            )
            for p in s.scalars(select(DuplicatePair).order_by(DuplicatePair.id))
        ]


def _scan(factory: sessionmaker[Session], bulk_path: bool) -> ScanSummary:
    seen: list[tuple[int, int]] = []
    run = bulk_scan.scan if bulk_path else duplicates.scan
    with session_scope(factory) as s:
        summary = run(s, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]
    return summary


def test_bulk_scan_equals_the_pair_by_pair_scan(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _referential(session_factory, tmp_path)
    before = _state(session_factory)
    by_pair = _scan(session_factory, bulk_path=False)
    by_pair_state = _state(session_factory)
    _truncate(session_factory.kw["bind"])
    _referential(session_factory, tmp_path)
    assert _state(session_factory) == before
    in_bulk = _scan(session_factory, bulk_path=True)
    assert in_bulk == by_pair
    assert _state(session_factory) == by_pair_state
    statuses = {row[0]: row[6] for row in by_pair_state}
    ids = [row[0] for row in before]
    assert [statuses[i] for i in ids[:4]] == ["not_duplicate", "pending", "deferred", "merged"]
    assert by_pair.queued > 0 and by_pair.already_known >= 2
    assert any(row[7] == "scan" for row in by_pair_state), "a new pair is queued by the scan"
    again = _scan(session_factory, bulk_path=True)
    assert (
        _state(session_factory) == by_pair_state
        and again.candidate_pairs == by_pair.candidate_pairs
    )
