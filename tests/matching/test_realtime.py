"""The one-against-many scorer gives exactly what pairwise scoring gives."""

from __future__ import annotations

from matching.config import MatchConfig
from matching.model import default_model
from matching.realtime import score_against, score_index_pairs
from matching.records import IdentityRecord
from matching.scoring import score_pair


def test_score_against_keeps_banded_pairs_exactly_as_score_pair_scores_them() -> None:
    query = IdentityRecord(
        id="q",
        birth_name="DUPOND",
        first_names=("JEAN", "PIERRE"),
        sex="M",
        birth_date="1971-11-02",
        birth_place_code="75056",
    )
    candidates = [
        IdentityRecord(
            id="a",
            birth_name="DUPONT",
            first_names=("JEAN-PIERRE",),
            sex="M",
            birth_date="1971-11-02",
            birth_place_code="75056",
        ),
        IdentityRecord(
            id="b",
            birth_name="DUPONT",
            first_names=("PAUL",),
            sex="M",
            birth_date="1971-11-02",
            birth_place_code="75056",
        ),
        IdentityRecord(
            id="c", birth_name="MARTIN", first_names=("LUC",), sex="M", birth_date="1950-01-01"
        ),
    ]
    model, config = default_model(), MatchConfig()
    batch = {p.right_id: p for p in score_against(query, candidates, model, config)}
    singles = {c.id: score_pair(query, c, model, config) for c in candidates}
    assert set(batch) == {k for k, p in singles.items() if p.band != "non-match"}
    assert "a" in batch and "c" not in batch
    for key, pair in batch.items():
        single = singles[key]
        assert pair.score == single.score and pair.band == single.band
        assert pair.contributions == single.contributions and pair.rules == single.rules
    assert score_against(query, [], model, config) == []


def test_pairs_scored_in_threads_are_the_pairs_scored_in_one() -> None:
    """score_index_pairs cut into parts scored at once keeps the same pairs, in order, with
    the same scores, levels and flags; parts of one pair and more parts than pairs too."""
    from dataclasses import replace

    import numpy as np

    from matching.prepared import prepare
    from tests.matching.test_prepared import _varied_records

    records = _varied_records()
    prep = prepare(records)
    n = len(records)
    left, right = (a.ravel() for a in np.triu_indices(n, 1))
    model = default_model()
    config = MatchConfig(review_probability=1e-12, match_probability=0.5)  # many pairs kept
    one = score_index_pairs(prep, left, right, model, config)
    assert len(one) > 100
    small = replace(config, chunk_size=7)  # parts smaller than the configured chunks
    for threads, cfg in ((2, config), (3, config), (4, small), (len(left) + 5, config)):
        many = score_index_pairs(prep, left, right, model, cfg, threads=threads)
        for name in ("left", "right", "scores", "bands", "levels", "weights", "flags"):
            assert np.array_equal(getattr(one, name), getattr(many, name)), (threads, name)
        assert many.prior == one.prior
