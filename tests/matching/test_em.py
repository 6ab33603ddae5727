"""Fellegi–Sunter estimation on synthetic level matrices."""

from __future__ import annotations

import numpy as np

from matching.em import expectation_maximisation, level_frequencies
from matching.fields import FIELD_LEVELS, FIELDS, level_index


def synthetic_levels(rng: np.random.Generator, matches: int, others: int) -> np.ndarray:
    """Matches agree exactly on every field 90 % of the time, non-matches 5 %."""
    rows = []
    for count, p_exact in ((matches, 0.9), (others, 0.05)):
        block = np.empty((count, len(FIELDS)), dtype=np.int8)
        for j, field in enumerate(FIELDS):
            exact, different = 1, level_index(field, "different")
            block[:, j] = np.where(rng.random(count) < p_exact, exact, different)
        rows.append(block)
    return np.concatenate(rows)


def flat(field: str, exact: float) -> list[float]:
    size = len(FIELD_LEVELS[field])
    values = [(1 - exact) / (size - 2)] * size
    values[0], values[1] = 1.0, exact  # level 1 is each field's best agreement
    return values


def test_level_frequencies_ignore_missing() -> None:
    levels = np.zeros((400, len(FIELDS)), dtype=np.int8)
    levels[:200, 0] = level_index("birth_name", "exact")
    levels[:100, 2] = level_index("sex", "exact")
    levels[100:200, 2] = level_index("sex", "different")
    freq = level_frequencies(levels)
    assert freq["birth_name"][0] == 1.0
    # 200 exact out of 200 non-missing rows; the 200 missing rows do not dilute it.
    assert freq["birth_name"][level_index("birth_name", "exact")] > 0.95
    assert abs(freq["sex"][1] - 0.5) < 0.01
    assert abs(sum(freq["sex"][1:]) - 1.0) < 1e-9


def test_em_recovers_m_and_prior() -> None:
    rng = np.random.default_rng(3)
    levels = synthetic_levels(rng, 3000, 7000)
    m0 = {f: flat(f, 0.6) for f in FIELDS}
    u0 = {f: flat(f, 0.2) for f in FIELDS}
    m, u, prior = expectation_maximisation(levels, m0, u0, 0.5, iterations=40)
    assert abs(prior - 0.3) < 0.03
    assert abs(m["birth_name"][1] - 0.9) < 0.03
    assert abs(u["birth_date"][1] - 0.05) < 0.02
