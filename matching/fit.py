"""Re-fitting the model on a referential and the officers' decisions, evaluated on held-back ones.

The referential's candidate pairs are unlabelled: EM splits them into matches and non-matches.
A decided pair (merged: one person; refused: two people) is a label: its class is fixed and it
counts label_weight times. The decided pairs that the rules kept out of the match band also
re-estimate the probability such a pair gets (calibration.capped_rates). A share of the decisions
is held back and never seen by the fit; the previous and the fitted model are both evaluated on
them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from matching.blockpairs import prepared_candidate_pairs
from matching.calibration import capped_rates
from matching.compare import Levels, compare
from matching.config import MatchConfig
from matching.em import expectation_maximisation
from matching.model import MatchModel, deterministic_prior, sample_u, term_frequencies
from matching.prepared import IntArray, Prepared, prepare
from matching.records import IdentityRecord
from matching.scoring import MATCH, REVIEW, assess, pair_flags, record_frequencies, weigh

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Decision:
    """An officer's decision on a pair: the same person (merged) or two people (refused)."""

    left_id: str
    right_id: str
    same_person: bool


@dataclass(slots=True)
class FitResult:
    """The fitted model, how many decisions trained and tested it, and the evaluation."""

    model: MatchModel
    trained_on: int
    held_back: int
    evaluation: dict[str, dict[str, float]] = field(default_factory=dict)


def held_back(decision: Decision, share: float) -> bool:
    """Whether a decision is kept for the evaluation: a stable draw from the pair's ids."""
    low, high = sorted((decision.left_id, decision.right_id))
    digest = hashlib.sha256(f"{low}|{high}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def _rows(
    decisions: Sequence[Decision], index: dict[str, int]
) -> tuple[IntArray, IntArray, npt.NDArray[np.int8]]:
    """Record positions (left < right) and labels of the decisions whose records are known."""
    known = [d for d in decisions if d.left_id in index and d.right_id in index]
    a = np.array([index[d.left_id] for d in known], dtype=np.int64)
    b = np.array([index[d.right_id] for d in known], dtype=np.int64)
    labels = np.array([1 if d.same_person else 0 for d in known], dtype=np.int8)
    return np.minimum(a, b), np.maximum(a, b), labels


def _raw_scores(
    prep: Prepared, left: IntArray, right: IntArray, model: MatchModel, config: MatchConfig
) -> tuple[Levels, FloatArray]:
    """(levels, scores before any rule) of given pairs, in a referential of prep.size."""
    levels = compare(prep, left, right)
    tf = record_frequencies(prep, model, from_data=prep.size >= config.estimate_u_min_records)
    prior = model.prior_bits(config.referential_size or prep.size)
    scores, _ = weigh(levels, model, config, {k: (v[left], v[right]) for k, v in tf.items()}, prior)
    return levels, scores


def score_rows(
    prep: Prepared, left: IntArray, right: IntArray, model: MatchModel, config: MatchConfig
) -> tuple[FloatArray, npt.NDArray[np.int8]]:
    """(scores, bands) of given pairs, as the batch scores them in a referential of prep.size."""
    levels, scores = _raw_scores(prep, left, right, model, config)
    _, bands = assess(prep, left, right, levels, scores, model, config)
    return scores, bands


def refit_capped(
    prep: Prepared,
    left: IntArray,
    right: IntArray,
    same_person: npt.NDArray[np.bool_],
    model: MatchModel,
    config: MatchConfig,
) -> dict[str, float]:
    """The model's capped probabilities re-estimated on decided pairs (capped_rates)."""
    levels, raw = _raw_scores(prep, left, right, model, config)
    flags = pair_flags(prep, left, right, levels)
    return capped_rates(flags, raw, same_person, config.match_threshold, model.capped)


def evaluate(
    prep: Prepared,
    left: IntArray,
    right: IntArray,
    labels: npt.NDArray[np.int8],
    model: MatchModel,
    config: MatchConfig,
) -> dict[str, float]:
    """Precision and recall of the bands, and the log loss, on decided pairs."""
    if not len(left):
        return {"decisions": 0}
    scores, bands = score_rows(prep, left, right, model, config)
    same = labels == 1
    matched, kept = bands == MATCH, bands >= REVIEW
    probability = np.clip(1.0 / (1.0 + np.exp2(-np.clip(scores, -60, 60))), 1e-6, 1 - 1e-6)
    log_loss = -np.mean(np.where(same, np.log(probability), np.log1p(-probability)))
    return {
        "decisions": len(left),
        "match_precision": round(float(same[matched].mean()) if matched.any() else 1.0, 4),
        "match_recall": round(float(matched[same].mean()) if same.any() else 1.0, 4),
        "match_review_recall": round(float(kept[same].mean()) if same.any() else 1.0, 4),
        "log_loss": round(float(log_loss) / math.log(2), 4),
    }


def _training_rows(
    prep: Prepared,
    config: MatchConfig,
    t_left: IntArray,
    t_right: IntArray,
    t_labels: npt.NDArray[np.int8],
) -> tuple[IntArray, IntArray, npt.NDArray[np.int8]]:
    """The candidate pairs (label -1) and the decided pairs with their labels.

    A decided pair is taken once, with its label, even when the blocking also finds it.
    """
    pairs, _ = prepared_candidate_pairs(prep, config)
    n = max(prep.size, 1)
    unlabelled = ~np.isin(pairs.left * n + pairs.right, t_left * n + t_right)
    left = np.concatenate([pairs.left[unlabelled], t_left])
    right = np.concatenate([pairs.right[unlabelled], t_right])
    labels = np.concatenate([np.full(int(unlabelled.sum()), -1, dtype=np.int8), t_labels])
    return left, right, labels


def fit(
    records: Sequence[IdentityRecord],
    decisions: Sequence[Decision],
    start: MatchModel,
    config: MatchConfig | None = None,
    *,
    label_weight: float = 10.0,
    holdout: float = 0.2,
    iterations: int = 20,
    u_pairs: int = 300_000,
) -> FitResult:
    """EM on the referential's candidate pairs plus the training decisions; see the module."""
    cfg = config or MatchConfig()
    prep = prepare(records)
    index = {r.id: i for i, r in enumerate(records)}
    training = [d for d in decisions if not held_back(d, holdout)]
    testing = [d for d in decisions if held_back(d, holdout)]
    left, right, labels = _training_rows(prep, cfg, *_rows(training, index))
    levels = compare(prep, left, right)
    free = labels < 0
    prior = deterministic_prior(levels[free]) if free.any() else start.prior
    m, _, prior = expectation_maximisation(
        levels, start.m, start.u, prior, iterations, labels, label_weight
    )
    u = sample_u(prep, min(u_pairs, prep.size * (prep.size - 1) // 2)) if prep.size > 2 else start.u
    # Matches the referential holds: EM's share of the undecided pairs, plus the merged ones.
    rate = 2.0 * (prior * int(free.sum()) + int((labels == 1).sum())) / max(prep.size, 1)
    model = replace(
        start,
        m=m,
        u=u,
        prior=prior,
        tf=term_frequencies(records),
        description=f"fitted by EM on {prep.size} records and {int((labels >= 0).sum())} decisions",
        reference_size=prep.size,
    ).with_rate(rate)
    # The decided pairs the rules held back say how often such a pair is one person.
    decided = labels >= 0
    same = labels[decided] == 1
    capped = refit_capped(prep, left[decided], right[decided], same, model, cfg)
    model = replace(model, capped=capped)
    e_left, e_right, e_labels = _rows(testing, index)
    evaluation = {
        name: evaluate(prep, e_left, e_right, e_labels, candidate, cfg)
        for name, candidate in (("previous", start), ("fitted", model))
    }
    return FitResult(model, int((labels >= 0).sum()), len(e_labels), evaluation)
