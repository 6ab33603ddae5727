"""Tunable settings of the matcher; the defaults are the ones the benchmarks report."""

from __future__ import annotations

import math
from dataclasses import dataclass


def log2_odds(probability: float) -> float:
    """log2(p / (1 - p)): the score a probability threshold corresponds to."""
    return math.log2(probability / (1.0 - probability))


@dataclass(frozen=True, slots=True)
class MatchConfig:
    """Thresholds (match probabilities), blocking limits and batch sizing."""

    # A pair is an automatic match when its posterior probability reaches match_probability and
    # no rule caps it; it goes to review from review_probability.
    match_probability: float = 0.95
    review_probability: float = 1e-4
    # Records in the referential the pairs are drawn from; it sets the prior (a pair is less
    # likely a match in a larger referential). 0: the batch's own size, or for a single pair
    # the model's reference size.
    referential_size: int = 0
    # Most bits the contact fields together may add (a household shares all four at once). Off by
    # default: the rules already keep households' pairs out of the match band, and files whose
    # contact fields are personal (FEBRL) lose recall with a cap.
    contact_cap: float = math.inf
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
    # Window of the address pass in an over-common block: none. An address shared by more people
    # than a household (a care home, a shelter, a badly filled field) tells nobody apart.
    address_window: int = 0
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

    def __post_init__(self) -> None:
        for name in ("match_probability", "review_probability"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be strictly between 0 and 1, got {value}")
        if self.review_probability > self.match_probability:
            raise ValueError("review_probability must not exceed match_probability")

    @property
    def match_threshold(self) -> float:
        """The match probability as a score (posterior log2-odds)."""
        return log2_odds(self.match_probability)

    @property
    def review_threshold(self) -> float:
        """The review probability as a score (posterior log2-odds)."""
        return log2_odds(self.review_probability)
