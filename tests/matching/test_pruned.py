"""The pruned comparison weighs again only the pairs whose similarities it computed."""

from __future__ import annotations

import itertools

import numpy as np

from matching.compare import compare
from matching.config import MatchConfig
from matching.model import default_model
from matching.prepared import prepare
from matching.pruned import score_pruned
from matching.scoring import record_frequencies, weigh
from tests.matching.conftest import person


def test_scores_and_weights_are_those_of_a_full_weighing() -> None:
    records = [
        person(id="A"),
        person(id="B", birth_name="LEFEBRE", address="12 RUE PASTEUR BAT B"),
        person(id="C", first_names=("JEAN-PIERE",), city="CLERMONT FERAND", ins=""),
        person(id="D", birth_name="MARTIN", first_names=("PAUL",), birth_date="1980-01-02"),
        person(id="E", birth_name="LEFEVRE", birth_date="1975-03-12", address="3 RUE HAUTE"),
        person(id="F", birth_name="DURAND", first_names=("LEA",), sex="F", ins=""),
    ]
    prep = prepare(records)
    pairs = np.array(list(itertools.combinations(range(len(records)), 2)))
    left, right = pairs[:, 0], pairs[:, 1]
    model = default_model()
    tf = record_frequencies(prep, model, from_data=False)
    tf_pairs = {k: (v[left], v[right]) for k, v in tf.items()}
    prior = model.prior_bits(1000)
    full = compare(prep, left, right)
    for config in (MatchConfig(), MatchConfig(contact_cap=6.0)):
        levels, scores, weights = score_pruned(prep, left, right, model, config, tf_pairs, prior)
        expected_scores, expected_weights = weigh(levels, model, config, tf_pairs, prior)
        assert np.array_equal(scores, expected_scores)
        assert np.array_equal(weights, expected_weights)
        kept = scores >= config.review_threshold
        assert kept.sum() >= 3
        assert np.array_equal(levels[kept], full[kept])
