"""The probability of a pair a rule keeps out of the match band, learnt from labelled pairs.

A rule caps a pair because its agreements are not independent evidence (twins share all but a
given name), so its score overstates the odds: the pair's probability is instead the match rate
observed among labelled pairs the same rule kept out of the match band. A pair capped by several
rules takes the lowest of their rates (the strongest contradiction wins), so each rule's rate is
measured on the pairs where it is the one that binds.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from matching.rules import RULES

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# A model file without the table treats a capped pair as a toss-up (what it was before).
DEFAULT_CAPPED_PROBABILITY = 0.5
# A capped probability stays within these bounds: some contradictions are entry errors, and the
# pair must never reach an automatic match through its cap.
CAPPED_BOUNDS = (0.001, 0.9)
# Pseudo-pairs of the previous rate when re-estimating: a few decisions move it a little.
PRIOR_STRENGTH = 10.0
ROUNDS = 4


def bounded(probability: float) -> float:
    """A capped probability within CAPPED_BOUNDS."""
    low, high = CAPPED_BOUNDS
    return float(min(max(probability, low), high))


def cap_scores(capped: dict[str, float]) -> FloatArray:
    """Per rule of RULES (in order), the score (log2-odds) a pair it caps keeps at most."""
    values = [bounded(capped.get(name, DEFAULT_CAPPED_PROBABILITY)) for _, name in RULES]
    return np.array([math.log2(p / (1.0 - p)) for p in values], dtype=np.float64)


def capped_limit(flags: IntArray, caps: FloatArray) -> FloatArray:
    """Per pair, the lowest cap of the rules set in its flags (+inf when none is set)."""
    limit = np.full(len(flags), np.inf)
    for (bit, _), cap in zip(RULES, caps.tolist(), strict=True):
        limit = np.where((flags & bit) != 0, np.minimum(limit, cap), limit)
    return limit


def capped_rates(
    flags: IntArray,
    raw_scores: FloatArray,
    same_person: npt.NDArray[np.bool_],
    threshold: float,
    start: dict[str, float],
) -> dict[str, float]:
    """Match rate per rule among labelled pairs that the rules keep out of the match band.

    flags: rule bits per pair; raw_scores: the scores before any cap; threshold: the match
    score. Only pairs scoring at least the threshold count (those the rules held back). A rule
    is credited with the pairs where its rate is the lowest of the rules set (it binds); a few
    rounds settle which one binds. Each rate is smoothed towards start's with PRIOR_STRENGTH.
    """
    held = ((flags & sum(bit for bit, _ in RULES)) != 0) & (raw_scores >= threshold)
    flags, same = flags[held], same_person[held].astype(np.float64)
    rates = {name: start.get(name, DEFAULT_CAPPED_PROBABILITY) for _, name in RULES}
    for _ in range(ROUNDS):
        caps = np.array([bounded(rates[name]) for _, name in RULES])
        binding = _binding_rule(flags, caps)
        updated = {}
        for index, (_, name) in enumerate(RULES):
            rows = binding == index
            prior = start.get(name, DEFAULT_CAPPED_PROBABILITY)
            total = float(same[rows].sum()) + PRIOR_STRENGTH * prior
            updated[name] = bounded(total / (int(rows.sum()) + PRIOR_STRENGTH))
        rates = updated
    return {name: round(rate, 4) for name, rate in rates.items()}


def _binding_rule(flags: IntArray, caps: npt.NDArray[np.float64]) -> IntArray:
    """Per pair, the index in RULES of its set rule with the lowest cap (-1 when none)."""
    best = np.full(len(flags), np.inf)
    index = np.full(len(flags), -1, dtype=np.int64)
    for i, ((bit, _), cap) in enumerate(zip(RULES, caps.tolist(), strict=True)):
        better = ((flags & bit) != 0) & (cap < best)
        best = np.where(better, cap, best)
        index = np.where(better, i, index)
    return index
