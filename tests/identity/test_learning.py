"""Learning from the officers' decisions: a versioned model, and a re-scored queue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from identity.duplicates import learning
from identity.referential.models import DuplicatePair
from matching.config import MatchConfig
from matching.model import default_model
from referentials.core.auth import SYSTEM
from referentials.core.db import session_scope
from tests.conftest import Api
from tests.factories import identity_body

IDS = "/api/v1/identities"


def _pair(api: Api, name_a: str, name_b: str, first: list[str], date: str, n: int) -> int:
    """Two records of one person typed by two establishments; the id of their queued pair."""
    for name, finess in ((name_a, "690999016"), (name_b, "670999911")):
        body = identity_body(
            birth_name=name,
            first_names=first,
            birth_date=date,
            source={"finess": finess, "local_id": f"L-{n}-{finess}"},
        )
        response = api.post(IDS, json=body)
        assert response.status_code in (200, 201), response.text
    items = api.get("/api/v1/duplicates", key="vigilance", params={"limit": 100}).json()["items"]
    return max(int(p["id"]) for p in items)


def _decide(api: Api, pair_id: int, decision: str) -> None:
    body = {"decision": decision, "reason": "test"}
    response = api.post(f"/api/v1/duplicates/{pair_id}/decision", key="vigilance", json=body)
    assert response.status_code == 200, response.text


def _snapshot(factory: sessionmaker[Session], pair_id: int) -> dict[str, Any]:
    with session_scope(factory) as session:
        pair = session.get(DuplicatePair, pair_id)
        assert pair is not None
        return {
            "status": pair.status,
            "score": pair.score,
            "band": pair.band,
            "explanation": pair.explanation,
            "decided_by": pair.decided_by,
            "decided_at": pair.decided_at,
        }


def test_fit_writes_versioned_models_and_rescoring_keeps_decided_pairs_decided(
    api: Api, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    merged = _pair(api, "Lefebvre", "Lefèvre", ["Marie", "Claire"], "1958-03-14", 1)
    refused = _pair(api, "Dupont", "Dupond", ["Paul"], "1961-07-02", 2)
    pending = _pair(api, "Gauthier", "Gautier", ["Louise"], "1990-11-23", 3)
    _decide(api, merged, "merge")
    _decide(api, refused, "not_duplicate")
    before = {pid: _snapshot(session_factory, pid) for pid in (merged, refused, pending)}

    with session_scope(session_factory) as session:
        first = learning.fit_model(
            session, directory=tmp_path, start=default_model(), config=MatchConfig(), holdout=0.0
        )
    assert first.version == 1 and first.path == tmp_path / "model-v0001.json"
    document = json.loads(first.path.read_text(encoding="utf-8"))
    assert document["version"] == 1 and document["training_decisions"] == 2
    assert set(document["evaluation"]) == {"previous", "fitted"}

    # A referential ten times as large: the same pending pair gets a lower probability.
    config = MatchConfig(match_probability=0.5)
    larger = first.result.model.with_rate(first.result.model.duplicate_rate / 10)
    with session_scope(session_factory) as session:
        summary = learning.rescore_pending(
            session, SYSTEM, model=larger, config=config, label=first.path.name
        )
    assert summary.rescored == 1
    after = {pid: _snapshot(session_factory, pid) for pid in (merged, refused, pending)}
    assert after[merged] == before[merged] and after[merged]["status"] == "merged"
    assert after[refused] == before[refused] and after[refused]["status"] == "not_duplicate"
    assert after[pending]["status"] == "pending"
    assert after[pending]["score"] < before[pending]["score"]

    with session_scope(session_factory) as session:
        second = learning.fit_model(
            session, directory=tmp_path, start=larger, config=MatchConfig(), holdout=0.0
        )
    assert second.version == 2 and first.path.exists()
