"""Learning from the officers' decisions: re-fit the model, version it, re-score the queue.

A merged pair is a label "one person", a pair refused as "not a duplicate" a label "two
people". The fit (matching.fit) reads the referential and these labels; the model is written as
a new versioned file next to the earlier ones, with its evaluation on held-back decisions. The
pending queue can then be re-scored with it: decided pairs are never touched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from identity.duplicates import matcher, queue
from identity.referential import repository
from identity.referential.models import DuplicatePair
from matching.config import MatchConfig
from matching.fit import Decision, FitResult, fit
from matching.model import MatchModel
from matching.scoring import score_pair
from referentials.core import audit
from referentials.core.auth import Principal
from referentials.core.db import utcnow

LABELS = {"merged": True, "not_duplicate": False}
_VERSIONED = re.compile(r"^model-v(\d+)\.json$")


@dataclass(frozen=True)
class FittedModel:
    """Where the new model was written, its version, and the fit's figures."""

    path: Path
    version: int
    result: FitResult


@dataclass
class RescoreSummary:
    rescored: int = 0
    band_changed: int = 0
    below_review: int = 0


def decided_pairs(session: Session) -> list[DuplicatePair]:
    """Pairs an officer decided (merged or refused), oldest decision first."""
    return repository.decided_pairs(session, tuple(LABELS))


def next_version(directory: Path) -> int:
    """1 + the highest version already written in the directory."""
    found = [
        int(m.group(1)) for p in directory.glob("model-v*.json") if (m := _VERSIONED.match(p.name))
    ]
    return max(found, default=0) + 1


def fit_model(
    session: Session,
    *,
    directory: Path,
    start: MatchModel,
    config: MatchConfig,
    label_weight: float = 10.0,
    holdout: float = 0.2,
) -> FittedModel:
    """Fit on the active identities and every decided pair; write model-vN.json."""
    pairs = decided_pairs(session)
    identities = {i.id: i for i in repository.active_identities(session)}
    # A merged pair's losing side is inactive now, but its traits are what the officer saw.
    wanted = {i for p in pairs for i in (p.left_id, p.right_id)} - identities.keys()
    identities.update(repository.identities_by_id(session, sorted(wanted)))
    records = [matcher.to_record(i) for i in identities.values()]
    decisions = [Decision(str(p.left_id), str(p.right_id), LABELS[p.status]) for p in pairs]
    result = fit(records, decisions, start, config, label_weight=label_weight, holdout=holdout)
    directory.mkdir(parents=True, exist_ok=True)
    version = next_version(directory)
    path = directory / f"model-v{version:04d}.json"
    document = result.model.to_json() | {
        "version": version,
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "records": len(records),
        "training_decisions": result.trained_on,
        "held_back_decisions": result.held_back,
        "label_weight": label_weight,
        "evaluation": result.evaluation,
    }
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return FittedModel(path, version, result)


def rescore_pending(
    session: Session, principal: Principal, *, model: MatchModel, config: MatchConfig, label: str
) -> RescoreSummary:
    """Re-score the open pairs (pending, deferred) with `model`; decided pairs stay as they are.

    A pair now below review keeps its place in the queue (a model never decides): its band says
    "non-match" and an officer closes it.
    """
    summary = RescoreSummary()
    sized = replace(config, referential_size=repository.count(session))
    for pair in repository.open_pairs(session, queue.OPEN):
        sides = repository.identities_by_id(session, [pair.left_id, pair.right_id])
        left, right = (matcher.to_record(sides[i]) for i in (pair.left_id, pair.right_id))
        scored = score_pair(left, right, model, sized)
        summary.rescored += 1
        summary.band_changed += scored.band != pair.band
        summary.below_review += scored.band == "non-match"
        pair.score, pair.band = scored.score, scored.band
        pair.explanation = queue.explanation_of(scored)
        pair.updated_at = utcnow()
    audit.record(
        session,
        principal,
        entity_type="matching_model",
        entity_id=label,
        action="rescore_queue",
        after={"rescored": summary.rescored, "band_changed": summary.band_changed},
    )
    session.flush()
    return summary
