"""Fellegi–Sunter estimation on level matrices: u by frequency, m (and the prior) by EM.

Level 0 (missing) is excluded everywhere: it carries no evidence, so its m and u are both 1.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from matching.compare import Levels
from matching.fields import FIELD_LEVELS, FIELDS

FloatArray = npt.NDArray[np.float64]
SMOOTH = 0.5  # additive smoothing (pseudo-count) so that no level gets probability 0


def level_frequencies(levels: Levels, weights: FloatArray | None = None) -> dict[str, list[float]]:
    """Per field, the (weighted) share of each non-missing level; missing gets 1.0."""
    out: dict[str, list[float]] = {}
    w = np.ones(len(levels)) if weights is None else weights
    for j, field in enumerate(FIELDS):
        size = len(FIELD_LEVELS[field])
        counts = np.bincount(levels[:, j], weights=w, minlength=size)[:size].astype(np.float64)
        counts[1:] += SMOOTH
        total = counts[1:].sum()
        shares = counts / total if total > 0 else np.full(size, 1.0 / max(size - 1, 1))
        shares[0] = 1.0
        out[field] = [float(x) for x in shares]
    return out


def _log_table(probabilities: dict[str, list[float]]) -> FloatArray:
    width = max(len(v) for v in FIELD_LEVELS.values())
    table = np.zeros((len(FIELDS), width))
    for j, field in enumerate(FIELDS):
        values = np.clip(np.asarray(probabilities[field], dtype=np.float64), 1e-9, 1.0)
        table[j, : len(values)] = np.log(values)
        table[j, 0] = 0.0
    return table


def log_likelihood(levels: Levels, probabilities: dict[str, list[float]]) -> FloatArray:
    """Sum over fields of log P(level | class) for each pair."""
    table = _log_table(probabilities)
    rows = np.arange(len(FIELDS))[None, :]
    return np.asarray(table[rows, levels].sum(axis=1), dtype=np.float64)


def expectation_maximisation(
    levels: Levels,
    m: dict[str, list[float]],
    u: dict[str, list[float]],
    prior: float,
    iterations: int = 25,
    labels: npt.NDArray[np.int8] | None = None,
    label_weight: float = 1.0,
) -> tuple[dict[str, list[float]], dict[str, list[float]], float]:
    """Two-class EM on candidate pairs: re-estimate m, u and the prior.

    u is free here because blocked non-matches agree far more often than random pairs do; the
    caller keeps the m found here and takes u from random sampling for the final weights.
    labels (1 match, 0 non-match, -1 unknown per row) fix the class of the decided pairs, and
    each decided pair counts label_weight times in m and u: a decision is worth more than a guess.
    The prior is estimated on the unlabelled rows only (decided pairs are not a random sample).
    """
    known = np.zeros(len(levels), dtype=bool) if labels is None else labels >= 0
    weight = np.where(known, label_weight, 1.0)
    for _ in range(iterations):
        odds = np.log(prior) - np.log1p(-prior)
        odds = odds + log_likelihood(levels, m) - log_likelihood(levels, u)
        posterior = 1.0 / (1.0 + np.exp(-np.clip(odds, -50, 50)))
        if labels is not None:
            posterior = np.where(known, labels == 1, posterior)
        m = level_frequencies(levels, posterior * weight)
        u = level_frequencies(levels, (1.0 - posterior) * weight)
        free = posterior[~known]
        prior = float(np.clip(free.mean() if len(free) else prior, 1e-6, 0.999))
    return m, u, prior
