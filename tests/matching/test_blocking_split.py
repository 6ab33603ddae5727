"""The blocking split between two processes gives the pairs and counts of one process."""

from __future__ import annotations

import random

import numpy as np
import pytest

from matching import features
from matching.batch import block_with_data_model
from matching.blockpairs import SPACES, merge_pairs, prepared_candidate_pairs, space_pairs
from matching.config import MatchConfig
from matching.model import default_model
from matching.prepared import Prepared, prepare
from tests.matching.conftest import person

# Small caps and windows, so that some blocks of the sample fall back to the sorted window.
CONFIG = MatchConfig(block_cap=6, loose_block_cap=4, fallback_window=3, u_sample_pairs=2000)


def _sample(count: int = 400, seed: int = 11) -> Prepared:
    """Records sharing names, dates, places and addresses often enough to fill blocks."""
    rng = random.Random(seed)
    names = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "PETIT", "DURAND", "LEROY"]
    firsts = ["MARIE", "JEAN", "PIERRE", "ANNE", "LOUIS", "CLAIRE"]
    records = [
        person(
            id=f"R{i}",
            birth_name=rng.choice(names),
            used_name=rng.choice(["", *names]),
            first_names=(rng.choice(firsts), rng.choice(["", *firsts])),
            birth_date=f"19{rng.randint(50, 54)}-0{rng.randint(1, 3)}-1{rng.randint(0, 2)}",
            birth_place_code=rng.choice(["", "63113", "75056", "69123"]),
            ins=rng.choice(["", "175036311300158", "275036311300124"]),
            address=rng.choice(["", "12 RUE PASTEUR", "3 AVENUE FOCH"]),
            postcode=rng.choice(["", "63000", "75011"]),
        )
        for i in range(count)
    ]
    return prepare(records)


def _same(a: tuple[object, ...], b: tuple[object, ...]) -> None:
    (pairs_a, report_a), (pairs_b, report_b) = a, b
    assert np.array_equal(pairs_a.left, pairs_b.left)  # type: ignore[attr-defined]
    assert np.array_equal(pairs_a.right, pairs_b.right)  # type: ignore[attr-defined]
    assert report_a == report_b


def test_any_split_of_the_key_spaces_merges_into_the_same_pairs() -> None:
    prep = _sample()
    whole = prepared_candidate_pairs(prep, CONFIG)
    assert whole[1].capped_blocks > 0 and len(whole[0]) > 1000
    rng = random.Random(3)
    for _ in range(4):
        chosen = {space for space in sorted(SPACES) if rng.random() < 0.5}
        parts = [space_pairs(prep, CONFIG, chosen), space_pairs(prep, CONFIG, SPACES - chosen)]
        _same(merge_pairs(parts, prep.size), whole)
    singles = [space_pairs(prep, CONFIG, {space}) for space in sorted(SPACES)]
    _same(merge_pairs(singles, prep.size), whole)


def test_two_processes_give_the_pairs_counts_and_model_of_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prep = _sample()
    model = default_model()
    pairs1, report1, model1 = block_with_data_model(prep, model, CONFIG, workers=1)
    # The sample is small: let it go to a forked process all the same.
    monkeypatch.setattr(features, "PARALLEL_MIN", 0)
    pairs2, report2, model2 = block_with_data_model(prep, model, CONFIG, workers=2)
    _same((pairs1, report1), (pairs2, report2))
    _same((pairs1, report1), prepared_candidate_pairs(prep, CONFIG))
    assert model1 == model2
    assert model1.u != model.u
