"""Match weights, bands and hard rules, with the per-field explanation of every scored pair."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matching.compare import Levels, compare
from matching.config import MatchConfig
from matching.fields import FIELD_LEVELS, FIELDS, TF_FIELDS, level_index
from matching.model import MatchModel
from matching.prepared import IntArray, Prepared, prepare
from matching.records import IdentityRecord

FloatArray = npt.NDArray[np.float64]
BANDS: tuple[str, ...] = ("non-match", "review", "match")
NON_MATCH, REVIEW, MATCH = 0, 1, 2

# Hard rules, as bit flags, in the order they are reported.
RULES: tuple[tuple[int, str], ...] = (
    (1, "ins_conflict"),
    (2, "twin_signature"),
    (4, "birth_date_conflict"),
    (8, "no_name_agreement"),
)
GENERATION_GAP = 10  # years between two birth dates beyond which a pair may be parent and child


@dataclass(frozen=True, slots=True)
class FieldContribution:
    """One field's agreement level and its weight (log2 Bayes factor) in the score."""

    field: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class ScoredPair:
    """A compared pair: its score in bits, its band, and why (contributions and rules)."""

    left_id: str
    right_id: str
    score: float
    band: str
    contributions: tuple[FieldContribution, ...]
    rules: tuple[str, ...] = ()

    @property
    def probability(self) -> float:
        """Posterior probability of a match implied by the score."""
        return 1.0 / (1.0 + math.pow(2.0, -max(min(self.score, 60.0), -60.0)))


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
            table = {prep.interner.get(k): v for k, v in model.tf.get(name, {}).items()}
            values = np.array([table.get(int(c), np.nan) for c in codes], dtype=np.float64)
        out[name] = np.where(codes > 0, values, np.nan)
    return out


def weigh(
    levels: Levels,
    model: MatchModel,
    config: MatchConfig,
    tf_pairs: dict[str, tuple[FloatArray, FloatArray]] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """(scores, per-field weights) of level rows; exact name agreements are TF-adjusted."""
    table = model.weight_table()
    weights = table[np.arange(len(FIELDS))[None, :], levels]
    if not config.use_contact_fields:
        for name in ("address", "postcode", "city", "phone"):
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
    return model.prior_weight + weights.sum(axis=1), weights


def _is(levels: Levels, name: str, *wanted: str) -> npt.NDArray[np.bool_]:
    column = levels[:, FIELDS.index(name)]
    hit = np.zeros(len(levels), dtype=bool)
    for level in wanted:
        hit |= column == level_index(name, level)
    return hit


def rule_flags(levels: Levels, year_gap: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Bit flags of the hard rules that apply to each pair (year_gap: |birth year difference|)."""
    ins_conflict = _is(levels, "ins", "different")
    # Twins share birth name (up to a typo), date and place but not the first given name.
    # Without a place on one side the signature still holds when both sexes are known (files
    # without sex or place, like FEBRL, cannot show it). A close spelling of the first name
    # only counts as another name when the sexes differ.
    sex_known = ~_is(levels, "sex", "missing")
    near_first = _is(levels, "first_names", "jw_high", "typo") & _is(levels, "sex", "different")
    same_place = _is(levels, "birth_place", "exact", "department") | (
        _is(levels, "birth_place", "missing") & sex_known
    )
    twin = (
        ~_is(levels, "birth_name", "missing", "different")
        & _is(levels, "birth_date", "exact", "swap", "one_digit")
        & same_place
        & (_is(levels, "first_names", "different", "other_in_list") | near_first)
    )
    # Parent and child share names; a birth-date difference no entry error explains must reach
    # a human. The level says "different"; the year gap tells a generation from a typo.
    # Same-named parent and child have the same sex, so the rule needs both sexes known.
    date_conflict = (
        _is(levels, "birth_date", "different")
        & (year_gap >= GENERATION_GAP)
        & _is(levels, "sex", "exact")
    )
    # One shared INS matricule is one person for INSi: neither trap can hold then.
    same_ins = _is(levels, "ins", "exact")
    # No automatic merge without any agreement on a name. Like the other traps it needs both
    # sexes known: files without sex (FEBRL) corrupt whole names and are left to the score.
    no_name = (
        _is(levels, "birth_name", "different")
        & _is(levels, "first_names", "different", "other_in_list")
        & sex_known
    )
    flags = ins_conflict * 1 + (twin & ~same_ins) * 2 + (date_conflict & ~same_ins) * 4
    return flags + (no_name & ~same_ins) * 8


def year_gap(prep: Prepared, left: IntArray, right: IntArray) -> npt.NDArray[np.int64]:
    """|difference of birth years| per pair (0 when a year is unknown)."""
    years = prep.codes["year"]
    gap = np.abs(years[left] - years[right])
    return np.where((years[left] > 0) & (years[right] > 0), gap, 0)


def decide(scores: FloatArray, flags: npt.NDArray[np.int64], config: MatchConfig) -> Levels:
    """Band per pair from the thresholds, then capped by the hard rules."""
    bands = np.where(
        scores >= config.match_threshold,
        MATCH,
        np.where(scores >= config.review_threshold, REVIEW, NON_MATCH),
    ).astype(np.int8)
    ins_cap = BANDS.index(config.ins_conflict_band)
    bands[(flags & 1).astype(bool)] = np.minimum(bands[(flags & 1).astype(bool)], ins_cap)
    capped = (flags & 14).astype(bool)
    bands[capped] = np.minimum(bands[capped], REVIEW)
    return bands


def build_pair(
    left_id: str,
    right_id: str,
    levels: Levels,
    weights: FloatArray,
    score: float,
    band: int,
    flags: int,
) -> ScoredPair:
    """ScoredPair from one row of the level and weight matrices."""
    contributions = tuple(
        FieldContribution(name, FIELD_LEVELS[name][int(levels[j])], round(float(weights[j]), 3))
        for j, name in enumerate(FIELDS)
    )
    rules = tuple(name for bit, name in RULES if flags & bit)
    return ScoredPair(left_id, right_id, round(score, 3), BANDS[band], contributions, rules)


def score_pair(
    a: IdentityRecord,
    b: IdentityRecord,
    model: MatchModel,
    config: MatchConfig | None = None,
) -> ScoredPair:
    """Score one pair of records with the model's term-frequency tables."""
    cfg = config or MatchConfig()
    prep = prepare([a, b])
    left, right = np.array([0]), np.array([1])
    levels = compare(prep, left, right)
    tf = record_frequencies(prep, model, from_data=False)
    tf_pairs = {k: (v[left], v[right]) for k, v in tf.items()}
    scores, weights = weigh(levels, model, cfg, tf_pairs)
    flags = rule_flags(levels, year_gap(prep, left, right))
    band = decide(scores, flags, cfg)
    return build_pair(
        a.id, b.id, levels[0], weights[0], float(scores[0]), int(band[0]), int(flags[0])
    )


def explain(pair: ScoredPair) -> str:
    """One-line explanation: score, band, then each non-missing field and the rules applied."""
    parts = [
        f"{c.field}={c.level}({c.weight:+.1f})" for c in pair.contributions if c.level != "missing"
    ]
    text = f"{pair.score:.1f} {pair.band}: " + " ".join(parts)
    if pair.rules:
        text += " | rules: " + ",".join(pair.rules)
    return text
