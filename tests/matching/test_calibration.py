"""The probability of rule-capped pairs, learnt from labelled pairs."""

from __future__ import annotations

import numpy as np

from matching.calibration import CAPPED_BOUNDS, cap_scores, capped_limit, capped_rates
from matching.rules import INS_CONFLICT, RULES, TWIN, UNEXPLAINED_NAME

THRESHOLD = 4.0
START = {name: 0.5 for _, name in RULES}


def labelled(
    groups: list[tuple[int, int, int, float]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(flags, raw scores, same person) of `count` pairs per (flags, count, same, score) group."""
    flags, raw, same = [], [], []
    for bits, count, ones, score in groups:
        flags += [bits] * count
        raw += [score] * count
        same += [True] * ones + [False] * (count - ones)
    return np.array(flags, dtype=np.int64), np.array(raw), np.array(same)


def test_each_rule_gets_the_match_rate_of_the_pairs_it_held_back() -> None:
    flags, raw, same = labelled([(TWIN, 1000, 120, 30.0), (UNEXPLAINED_NAME, 1000, 600, 30.0)])
    rates = capped_rates(flags, raw, same, THRESHOLD, START)
    assert abs(rates["twin_signature"] - 0.12) < 0.01
    assert abs(rates["birth_name_unexplained"] - 0.6) < 0.01
    # A rule with no pair keeps its starting rate.
    assert rates["sex_and_birth_date_conflict"] == 0.5


def test_pairs_under_the_threshold_and_under_two_rules_go_to_the_binding_one() -> None:
    flags, raw, same = labelled(
        [
            (TWIN, 1000, 100, 30.0),
            (TWIN | INS_CONFLICT, 1000, 0, 30.0),  # the INS conflict binds: not the twins' rate
            (TWIN, 1000, 1000, -2.0),  # never held back from the match band: not counted
        ]
    )
    rates = capped_rates(flags, raw, same, THRESHOLD, START)
    assert abs(rates["twin_signature"] - 0.1) < 0.01
    assert CAPPED_BOUNDS[0] <= rates["ins_conflict"] < 0.01


def test_a_pair_takes_the_lowest_cap_of_its_rules() -> None:
    caps = cap_scores({"twin_signature": 0.2, "ins_conflict": 0.01})
    limit = capped_limit(np.array([0, TWIN, TWIN | INS_CONFLICT], dtype=np.int64), caps)
    assert limit[0] == np.inf
    assert abs(limit[1] - np.log2(0.2 / 0.8)) < 1e-9
    assert abs(limit[2] - np.log2(0.01 / 0.99)) < 1e-9
