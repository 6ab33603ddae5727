"""One record against many: the real-time duplicate check, scored in one vectorised pass."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from matching.batch import ScoredArrays
from matching.compare import compare
from matching.config import MatchConfig
from matching.model import MatchModel
from matching.prepared import IntArray, Prepared, prepare
from matching.records import IdentityRecord
from matching.scoring import (
    REVIEW,
    ScoredPair,
    assess,
    build_pair,
    record_frequencies,
    weigh,
)


def score_against(
    query: IdentityRecord,
    candidates: Sequence[IdentityRecord],
    model: MatchModel,
    config: MatchConfig,
) -> list[ScoredPair]:
    """Score ``query`` against each candidate (as ``score_pair`` does), keeping the pairs in
    the review band or above, in the candidates' order: explanations are built only for them."""
    if not candidates:
        return []
    prep = prepare([query, *candidates])
    right = np.arange(1, len(candidates) + 1)
    left = np.zeros_like(right)
    levels = compare(prep, left, right)
    # Frequencies from the model's tables, as score_pair does: a few records say nothing.
    tf = record_frequencies(prep, model, from_data=False)
    tf_pairs = {k: (v[left], v[right]) for k, v in tf.items()}
    # The referential the candidates come from sets the prior (config.referential_size).
    prior = model.prior_bits(config.referential_size)
    scores, weights = weigh(levels, model, config, tf_pairs, prior)
    flags, bands = assess(prep, left, right, levels, scores, model, config)
    kept = np.flatnonzero(bands >= REVIEW)
    return [
        build_pair(
            query.id,
            candidates[int(i)].id,
            levels[i],
            weights[i],
            float(scores[i]),
            int(bands[i]),
            int(flags[i]),
            prior,
        )
        for i in kept
    ]


def score_index_pairs(
    prep: Prepared, left: IntArray, right: IntArray, model: MatchModel, config: MatchConfig
) -> ScoredArrays:
    """Many one-against-many checks at once: each (left, right) pair of ``prep`` scored as
    score_against() scores it (frequencies from the model's tables), in bounded chunks; only
    the pairs in the review band or above are kept."""
    tf = record_frequencies(prep, model, from_data=False)
    prior = model.prior_bits(config.referential_size)
    step = max(config.chunk_size, 1)
    parts: list[ScoredArrays] = []
    for lo in range(0, max(len(left), 1), step):
        lft, rgt = left[lo : lo + step], right[lo : lo + step]
        levels = compare(prep, lft, rgt)
        tf_pairs = {k: (v[lft], v[rgt]) for k, v in tf.items()}
        scores, weights = weigh(levels, model, config, tf_pairs, prior)
        flags, bands = assess(prep, lft, rgt, levels, scores, model, config)
        kept = np.flatnonzero(bands >= REVIEW)
        parts.append(
            ScoredArrays(
                lft[kept],
                rgt[kept],
                scores[kept],
                bands[kept],
                levels[kept],
                weights[kept],
                flags[kept],
            )
        )
    names = ("left", "right", "scores", "bands", "levels", "weights", "flags")
    left, right, scores, bands, levels, weights, flags = (
        np.concatenate([getattr(p, n) for p in parts]) for n in names
    )
    return ScoredArrays(left, right, scores, bands, levels, weights, flags, prior)
