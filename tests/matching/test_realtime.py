"""The one-against-many scorer gives exactly what pairwise scoring gives."""

from __future__ import annotations

from matching.config import MatchConfig
from matching.model import default_model
from matching.realtime import score_against
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
