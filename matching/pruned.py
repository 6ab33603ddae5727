"""Comparison of candidate pairs that skips the string similarities which cannot matter.

Most candidate pairs of a large batch share a date and a place, or a phonetic name, and nothing
else: their score stays far below the review threshold whatever the similarity of their other
strings says. The similarities (Jaro-Winkler, edit distances, token ratios) are most of the
comparison's cost, so they are computed only for the pairs that could reach the review band
with the best level a similarity could give them. Every pair that reaches it is compared in full
and gets exactly the levels compare() gives; the others end as non-matches either way.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from matching.compare import Levels, compare, similarity_levels
from matching.config import MatchConfig
from matching.fields import CONTACT_FIELDS, FIELDS, level_index
from matching.model import MatchModel
from matching.prepared import IntArray, Prepared
from matching.scoring import weigh

FloatArray = npt.NDArray[np.float64]
# Per field, the levels compare(fuzzy=False) gives where a similarity was skipped, and the levels
# the similarity could have given instead; computed in reverse order (cheapest last here).
PENDING: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "birth_name": (("different",), ("jw_high", "typo", "different")),
    "first_names": (
        ("other_in_list", "different"),
        ("jw_high", "typo", "other_in_list", "different"),
    ),
    "address": (("different",), ("close", "similar", "different")),
    "city": (("different",), ("close", "different")),
}


def compare_pruned(
    prep: Prepared,
    left: IntArray,
    right: IntArray,
    model: MatchModel,
    config: MatchConfig,
    tf_pairs: dict[str, tuple[FloatArray, FloatArray]],
    prior: float,
) -> Levels:
    """compare() for every pair that can reach review; "different" similarities for the rest."""
    return score_pruned(prep, left, right, model, config, tf_pairs, prior)[0]


def score_pruned(
    prep: Prepared,
    left: IntArray,
    right: IntArray,
    model: MatchModel,
    config: MatchConfig,
    tf_pairs: dict[str, tuple[FloatArray, FloatArray]],
    prior: float,
) -> tuple[Levels, FloatArray, FloatArray]:
    """(levels, scores, weights) as compare_pruned() then weigh() give them.

    The similarities are computed one field at a time, the cheapest first (cities and addresses
    repeat, so few distinct pairs), each for the pairs whose score could still reach review with
    the fields not yet computed at their best: a pair ruled out stays out. The bound leaves the
    contact cap out (it only lowers a score), and a skipped level is never an exact one, so no
    term frequency enters the weights it swaps. Without a contact cap, the weights of the bound
    are the final ones but for the pairs a similarity was computed for: only those are weighed
    again.
    """
    levels = compare(prep, left, right, fuzzy=False)
    uncapped = replace(config, contact_cap=math.inf)
    scores, weights = weigh(levels, model, uncapped, tf_pairs, prior)
    bound = scores.copy()
    table = model.weight_table()
    if not config.use_contact_fields:
        table[[FIELDS.index(name) for name in CONTACT_FIELDS]] = 0.0
    skipped: dict[str, npt.NDArray[np.bool_]] = {}
    best: dict[str, float] = {}
    for name, (left_as, possible) in PENDING.items():
        j = FIELDS.index(name)
        best[name] = float(max(table[j, level_index(name, level)] for level in possible))
        skipped[name] = np.isin(levels[:, j], [level_index(name, level) for level in left_as])
        bound += np.where(skipped[name], best[name] - weights[:, j], 0.0)
    alive = np.ones(len(levels), dtype=bool)
    compared = np.zeros(len(levels), dtype=bool)
    for name in reversed(PENDING):
        alive &= bound >= config.review_threshold
        rows = np.flatnonzero(alive & skipped[name])
        if len(rows):
            j = FIELDS.index(name)
            levels[rows, j] = similarity_levels(prep, left[rows], right[rows], name)
            bound[rows] += table[j, levels[rows, j]] - best[name]
            compared[rows] = True
    if math.isfinite(config.contact_cap):
        scores, weights = weigh(levels, model, config, tf_pairs, prior)
        return levels, scores, weights
    rows = np.flatnonzero(compared)
    if len(rows):
        tf_rows = {k: (a[rows], b[rows]) for k, (a, b) in tf_pairs.items()}
        scores[rows], weights[rows] = weigh(levels[rows], model, config, tf_rows, prior)
    return levels, scores, weights
