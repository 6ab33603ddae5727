"""Batch deduplication: block, compare and score candidate pairs in bounded, vectorised chunks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from matching.blocking import BlockingReport, CandidatePairs, candidate_pairs
from matching.compare import compare
from matching.config import MatchConfig
from matching.model import MatchModel, default_model, sample_u
from matching.prepared import IntArray, Prepared, prepare
from matching.records import IdentityRecord
from matching.scoring import (
    REVIEW,
    FloatArray,
    ScoredPair,
    build_pair,
    decide,
    rule_flags,
    weigh,
    year_gap,
)

Progress = Callable[[int, int], None]
# Below this size a file's own name frequencies are too noisy; the model's tables are used.
MIN_RECORDS_FOR_DATA_TF = 2000


@dataclass(slots=True)
class BatchResult:
    """Pairs in the match or review band, and the blocking report."""

    pairs: list[ScoredPair] = field(default_factory=list)
    report: BlockingReport = field(default_factory=BlockingReport)


def _score_chunk(
    prep: Prepared,
    left: IntArray,
    right: IntArray,
    model: MatchModel,
    config: MatchConfig,
    tf: dict[str, FloatArray],
    threads: int,
) -> list[ScoredPair]:
    levels = compare(prep, left, right, workers=threads)
    tf_pairs = {k: (v[left], v[right]) for k, v in tf.items()}
    scores, weights = weigh(levels, model, config, tf_pairs)
    flags = rule_flags(levels, year_gap(prep, left, right))
    bands = decide(scores, flags, config)
    kept = np.flatnonzero(bands >= REVIEW)
    return [
        build_pair(
            prep.ids[left[i]],
            prep.ids[right[i]],
            levels[i],
            weights[i],
            float(scores[i]),
            int(bands[i]),
            int(flags[i]),
        )
        for i in kept
    ]


def score_candidates(
    prep: Prepared,
    pairs: CandidatePairs,
    model: MatchModel,
    config: MatchConfig,
    progress: Progress | None = None,
    workers: int = 1,
) -> list[ScoredPair]:
    """Score candidate pairs chunk by chunk; workers > 1 scores chunks concurrently.

    The heavy parts (numpy, rapidfuzz) release the GIL, so threads scale without copying the
    prepared columns into other processes.
    """
    from matching.scoring import record_frequencies

    tf = record_frequencies(prep, model, from_data=prep.size >= MIN_RECORDS_FOR_DATA_TF)
    total = len(pairs)
    step = max(config.chunk_size, 1)
    bounds = [(i, min(i + step, total)) for i in range(0, total, step)]
    out: list[ScoredPair] = []
    done = 0
    if progress:
        progress(0, total)

    def run(bound: tuple[int, int]) -> list[ScoredPair]:
        lo, hi = bound
        return _score_chunk(prep, pairs.left[lo:hi], pairs.right[lo:hi], model, config, tf, 1)

    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        # map() keeps results in input order and holds at most the running chunks in memory.
        for (lo, hi), chunk_pairs in zip(bounds, pool.map(run, bounds), strict=True):
            out.extend(chunk_pairs)
            done += hi - lo
            if progress:
                progress(done, total)
    return out


def with_data_u(model: MatchModel, prep: Prepared, pairs: int) -> MatchModel:
    """The model with u taken from random pairs of this input (m, prior and TF unchanged)."""
    u = sample_u(prep, min(pairs, prep.size * (prep.size - 1) // 2))
    return MatchModel(m=model.m, u=u, prior=model.prior, tf=model.tf, description=model.description)


def dedupe_with_report(
    records: Sequence[IdentityRecord],
    model: MatchModel | None = None,
    config: MatchConfig | None = None,
    progress: Progress | None = None,
    workers: int = 1,
) -> BatchResult:
    """dedupe() plus the blocking report (candidate pairs per pass)."""
    cfg = config or MatchConfig()
    mdl = model or default_model()
    prep = prepare(records)
    if prep.size >= cfg.estimate_u_min_records:
        mdl = with_data_u(mdl, prep, cfg.u_sample_pairs)
    pairs, report = candidate_pairs(records, cfg)
    scored = score_candidates(prep, pairs, mdl, cfg, progress, workers)
    return BatchResult(pairs=scored, report=report)


def dedupe(
    records: Sequence[IdentityRecord],
    model: MatchModel | None = None,
    config: MatchConfig | None = None,
    progress: Progress | None = None,
    workers: int = 1,
) -> list[ScoredPair]:
    """Pairs of records in the match or review band, best evidence kept per pair."""
    return dedupe_with_report(records, model, config, progress, workers).pairs
