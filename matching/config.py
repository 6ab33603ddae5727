"""Tunable settings of the matcher; the defaults are the ones the benchmarks report."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MatchConfig:
    """Thresholds (in match-weight bits), blocking limits and batch sizing."""

    match_threshold: float = 12.0
    review_threshold: float = 2.0
    # Blocks larger than this are not compared all-to-all; see blocking.candidate_pairs.
    # On a million French identities, halving the caps and windows (60/8, 16/3 before) cut the
    # candidate pairs by 40% and lost 0.06% of the true pairs; small files have no such blocks.
    block_cap: int = 30
    # Sorted-neighbourhood window used inside an over-common block.
    fallback_window: int = 4
    # The same for the passes without a birth date in their key (blocking.LOOSE_PASSES).
    loose_block_cap: int = 10
    loose_window: int = 2
    # Window of the name-prefix pass (no date, no phonetic code: the widest blocks, a third of
    # all pairs): the nearest neighbour in (FONEM, date) order finds nearly all its true pairs.
    prefix_window: int = 1
    # Term-frequency adjustment of exact name agreements (0 = off, 1 = full).
    tf_weight: float = 1.0
    # Frequencies below this floor are not trusted (tiny files would give huge weights).
    tf_floor: float = 2e-5
    # Two different valid INS matricules: band cap ("review" keeps a human in the loop).
    ins_conflict_band: str = "review"
    # Pairs scored per vectorised chunk: bounds memory in the batch path.
    chunk_size: int = 200_000
    use_contact_fields: bool = True
    # Re-estimate u on the input itself (random pairs) when it has at least this many records:
    # u depends on the population (name and place distributions), m much less so.
    estimate_u_min_records: int = 2000
    u_sample_pairs: int = 300_000
