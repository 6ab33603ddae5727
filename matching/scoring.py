"""Match weights, bands and hard rules, with the per-field explanation of every scored pair."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matching.calibration import capped_limit
from matching.compare import Levels, compare
from matching.config import MatchConfig
from matching.evidence import birth_name_evidence, evidence_names
from matching.fields import CONTACT_FIELDS, FIELD_LEVELS, FIELDS, TF_FIELDS, level_index
from matching.model import MatchModel
from matching.prepared import IntArray, Prepared, prepare
from matching.records import IdentityRecord
from matching.rules import INS_CONFLICT, REVIEW_CAP, RULES, rule_flags, rule_names, year_gap

__all__ = ["RULES", "assess", "pair_flags", "rule_flags", "year_gap"]

FloatArray = npt.NDArray[np.float64]
BANDS: tuple[str, ...] = ("non-match", "review", "match")
NON_MATCH, REVIEW, MATCH = 0, 1, 2


@dataclass(frozen=True, slots=True)
class FieldContribution:
    """One field's agreement level and its weight (log2 Bayes factor) in the score."""

    field: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class ScoredPair:
    """A compared pair: its score, its band, and why (prior, contributions, rules, evidence).

    score is the posterior log2-odds of a match: prior + the sum of the contributions.
    """

    left_id: str
    right_id: str
    score: float
    band: str
    contributions: tuple[FieldContribution, ...]
    rules: tuple[str, ...] = ()
    prior: float = 0.0
    evidence: tuple[str, ...] = ()

    @property
    def probability(self) -> float:
        """Posterior probability of a match implied by the score."""
        return probability(self.score)


def probability(score: float) -> float:
    """Probability of a posterior log2-odds."""
    return 1.0 / (1.0 + math.pow(2.0, -max(min(score, 60.0), -60.0)))


def record_frequencies(prep: Prepared, model: MatchModel, from_data: bool) -> dict[str, FloatArray]:
    """Per record, the frequency of its birth name and first given name (NaN if unknown)."""
    columns = {"birth_name": "bn", "first_names": "first_id"}
    out: dict[str, FloatArray] = {}
    for name, column in columns.items():
        codes = prep.codes[column]
        if from_data:
            counts = np.bincount(codes, minlength=int(codes.max(initial=0)) + 1)
            values = counts[codes] / max(prep.size, 1)
        else:
            # A lookup array indexed by code: a bulk load scores chunks of 400,000 records.
            lookup = np.full(int(codes.max(initial=0)) + 1, np.nan, dtype=np.float64)
            table = {prep.interner.get(k): v for k, v in model.tf.get(name, {}).items()}
            known = [(c, v) for c, v in table.items() if 0 <= c < len(lookup)]
            if known:
                at, frequencies = zip(*known, strict=True)
                lookup[list(at)] = frequencies
            values = lookup[np.maximum(codes, 0)]
        out[name] = np.where(codes > 0, values, np.nan)
    return out


def _contact_cap(weights: FloatArray, cap: float) -> None:
    """Scale the positive contact weights of each row so that they add up to at most `cap`.

    Address, postcode, city and phone are one household's: people who live together agree on
    all four at once, so their weights are not independent pieces of evidence.
    """
    columns = [FIELDS.index(name) for name in FIELDS if name in CONTACT_FIELDS]
    block = weights[:, columns]
    positive = np.clip(block, 0.0, None)
    total = positive.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(total > cap, cap / total, 1.0)
    weights[:, columns] = np.where(block > 0, block * factor[:, None], block)


def weigh(
    levels: Levels,
    model: MatchModel,
    config: MatchConfig,
    tf_pairs: dict[str, tuple[FloatArray, FloatArray]] | None = None,
    prior: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    """(scores, per-field weights) of level rows; exact name agreements are TF-adjusted.

    prior: the prior log2-odds of a match (MatchModel.prior_bits), added to every score.
    """
    table = model.weight_table()
    weights = table[np.arange(len(FIELDS))[None, :], levels]
    if not config.use_contact_fields:
        for name in CONTACT_FIELDS:
            weights[:, FIELDS.index(name)] = 0.0
    for name in TF_FIELDS if config.tf_weight else ():
        if not tf_pairs:
            break
        left, right = tf_pairs[name]
        with np.errstate(all="ignore"):
            tf = np.fmax(left, right)
            adjust = np.log2(model.u_exact(name) / np.maximum(tf, config.tf_floor))
        j = FIELDS.index(name)
        exact = (levels[:, j] == level_index(name, "exact")) & ~np.isnan(tf)
        weights[exact, j] += config.tf_weight * adjust[exact]
    if math.isfinite(config.contact_cap):
        _contact_cap(weights, config.contact_cap)
    return prior + weights.sum(axis=1), weights


def pair_flags(prep: Prepared, left: IntArray, right: IntArray, levels: Levels) -> IntArray:
    """Rule bits, with the birth-name evidence bits above them (EVIDENCE_SHIFT)."""
    evidence = birth_name_evidence(prep, left, right, levels)
    flags = rule_flags(levels, year_gap(prep, left, right), evidence)
    return flags | (evidence << EVIDENCE_SHIFT)


EVIDENCE_SHIFT = 8


def decide(
    scores: FloatArray, flags: npt.NDArray[np.int64], config: MatchConfig, caps: FloatArray
) -> Levels:
    """Band per pair from the probability thresholds, then capped by the hard rules.

    A capped pair's score is lowered in place to at most its rules' cap (caps: the model's
    cap_scores()): a rule says its agreements are not independent evidence, so its probability
    is the match rate of the pairs such a rule held back, not the sum's.
    """
    bands = np.where(
        scores >= config.match_threshold,
        MATCH,
        np.where(scores >= config.review_threshold, REVIEW, NON_MATCH),
    ).astype(np.int8)
    conflict = (flags & INS_CONFLICT).astype(bool)
    bands[conflict] = np.minimum(bands[conflict], BANDS.index(config.ins_conflict_band))
    capped = (flags & REVIEW_CAP).astype(bool)
    bands[capped] = np.minimum(bands[capped], REVIEW)
    np.minimum(scores, capped_limit(flags, caps), out=scores)
    return bands


def assess(
    prep: Prepared,
    left: IntArray,
    right: IntArray,
    levels: Levels,
    scores: FloatArray,
    model: MatchModel,
    config: MatchConfig,
) -> tuple[IntArray, Levels]:
    """(rule flags, bands) of scored pairs; capped scores are lowered in place (decide).

    Rules and their evidence only lower a score, and never below their cap: a pair scoring under
    both the review threshold and every cap ends as a non-match whatever they say, so they are
    computed for the other pairs only (the evidence costs as much as the comparison).
    """
    caps = model.cap_scores()
    reach = min(config.review_threshold, float(caps.min()))
    rows = np.flatnonzero(scores >= reach)
    if len(rows) == len(scores):
        flags = pair_flags(prep, left, right, levels)
    else:
        flags = np.zeros(len(scores), dtype=np.int64)
        if len(rows):
            flags[rows] = pair_flags(prep, left[rows], right[rows], levels[rows])
    return flags, decide(scores, flags, config, caps)


def build_pair(
    left_id: str,
    right_id: str,
    levels: Levels,
    weights: FloatArray,
    score: float,
    band: int,
    flags: int,
    prior: float = 0.0,
) -> ScoredPair:
    """ScoredPair from one row of the level and weight matrices."""
    contributions = tuple(
        FieldContribution(name, FIELD_LEVELS[name][int(levels[j])], round(float(weights[j]), 3))
        for j, name in enumerate(FIELDS)
    )
    return ScoredPair(
        left_id,
        right_id,
        round(score, 3),
        BANDS[band],
        contributions,
        rule_names(flags),
        round(prior, 3),
        evidence_names(flags >> EVIDENCE_SHIFT),
    )


def score_pair(
    a: IdentityRecord,
    b: IdentityRecord,
    model: MatchModel,
    config: MatchConfig | None = None,
) -> ScoredPair:
    """Score one pair of records with the model's term-frequency tables.

    The prior is the one of a referential of config.referential_size records (the model's
    reference size when 0).
    """
    cfg = config or MatchConfig()
    prep = prepare([a, b])
    left, right = np.array([0]), np.array([1])
    levels = compare(prep, left, right)
    tf = record_frequencies(prep, model, from_data=False)
    tf_pairs = {k: (v[left], v[right]) for k, v in tf.items()}
    prior = model.prior_bits(cfg.referential_size)
    scores, weights = weigh(levels, model, cfg, tf_pairs, prior)
    # One pair: every rule is computed, so that even a non-match names what held it back.
    flags = pair_flags(prep, left, right, levels)
    band = decide(scores, flags, cfg, model.cap_scores())
    return build_pair(
        a.id, b.id, levels[0], weights[0], float(scores[0]), int(band[0]), int(flags[0]), prior
    )


def explain(pair: ScoredPair) -> str:
    """One-line explanation: score, band, prior, each non-missing field, rules and evidence."""
    parts = [
        f"{c.field}={c.level}({c.weight:+.1f})" for c in pair.contributions if c.level != "missing"
    ]
    text = f"{pair.score:.1f} {pair.band}: prior({pair.prior:+.1f}) " + " ".join(parts)
    if pair.rules:
        text += " | rules: " + ",".join(pair.rules)
    if pair.evidence:
        text += " | evidence: " + ",".join(pair.evidence)
    return text
