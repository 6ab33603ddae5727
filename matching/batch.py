"""Batch deduplication: block, compare and score candidate pairs in bounded, vectorised chunks."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from matching.blockpairs import (
    SPACES,
    BlockingReport,
    CandidatePairs,
    SpacePairs,
    merge_pairs,
    prepared_candidate_pairs,
    space_pairs,
)
from matching.compare import Levels
from matching.config import MatchConfig
from matching.features import in_background
from matching.model import MatchModel, default_model, estimate_duplicate_rate, sample_u
from matching.prepared import IntArray, Prepared, prepare
from matching.pruned import score_pruned
from matching.records import IdentityRecord
from matching.runtime import fork_available
from matching.scoring import (
    REVIEW,
    FloatArray,
    ScoredPair,
    assess,
    build_pair,
    record_frequencies,
)

Progress = Callable[[int, int], None]
# Below this size a file's own name frequencies are too noisy; the model's tables are used.
MIN_RECORDS_FOR_DATA_TF = 2000


@dataclass(slots=True)
class BatchResult:
    """Pairs in the match or review band, and the blocking report."""

    pairs: list[ScoredPair] = field(default_factory=list)
    report: BlockingReport = field(default_factory=BlockingReport)


@dataclass(slots=True)
class ScoredArrays:
    """Kept pairs (review band or above) as columns; ScoredPair objects are built on demand."""

    left: IntArray
    right: IntArray
    scores: FloatArray
    bands: Levels
    levels: Levels
    weights: FloatArray
    flags: IntArray
    prior: float = 0.0

    def __len__(self) -> int:
        return len(self.left)

    def pair(self, ids: list[str], i: int) -> ScoredPair:
        """The i-th kept pair as a ScoredPair (with its per-field contributions)."""
        return build_pair(
            ids[int(self.left[i])],
            ids[int(self.right[i])],
            self.levels[i],
            self.weights[i],
            float(self.scores[i]),
            int(self.bands[i]),
            int(self.flags[i]),
            self.prior,
        )

    def to_pairs(self, ids: list[str]) -> list[ScoredPair]:
        """ScoredPair objects of every kept pair."""
        return [self.pair(ids, i) for i in range(len(self.left))]


def _concat(parts: list[ScoredArrays], prior: float) -> ScoredArrays:
    names = ("left", "right", "scores", "bands", "levels", "weights", "flags")
    left, right, scores, bands, levels, weights, flags = (
        np.concatenate([getattr(p, n) for p in parts]) for n in names
    )
    return ScoredArrays(left, right, scores, bands, levels, weights, flags, prior)


def _score_chunk(
    prep: Prepared,
    left: IntArray,
    right: IntArray,
    model: MatchModel,
    config: MatchConfig,
    tf: dict[str, FloatArray],
    prior: float,
) -> ScoredArrays:
    tf_pairs = {k: (v[left], v[right]) for k, v in tf.items()}
    levels, scores, weights = score_pruned(prep, left, right, model, config, tf_pairs, prior)
    flags, bands = assess(prep, left, right, levels, scores, model, config)
    kept = np.flatnonzero(bands >= REVIEW)
    return ScoredArrays(
        left[kept], right[kept], scores[kept], bands[kept], levels[kept], weights[kept], flags[kept]
    )


@dataclass(frozen=True, slots=True)
class _Task:
    """Everything a chunk of pairs needs to be scored."""

    prep: Prepared
    pairs: CandidatePairs
    model: MatchModel
    config: MatchConfig
    tf: dict[str, FloatArray]
    prior: float

    def run(self, bound: tuple[int, int]) -> ScoredArrays:
        lo, hi = bound
        left, right = self.pairs.left[lo:hi], self.pairs.right[lo:hi]
        return _score_chunk(self.prep, left, right, self.model, self.config, self.tf, self.prior)


# The task forked workers inherit: the prepared columns and the candidate pairs are shared
# copy-on-write instead of being pickled to every worker. Set just before the fork.
_FORKED: list[_Task] = []


def _run_forked(bound: tuple[int, int]) -> ScoredArrays:
    return _FORKED[0].run(bound)


def _results(task: _Task, bounds: list[tuple[int, int]], workers: int) -> Iterator[ScoredArrays]:
    """Scored chunks in input order; in forked processes when workers > 1.

    Threads did not scale: between the numpy calls, the per-chunk Python holds the GIL.
    """
    if workers <= 1 or len(bounds) < 2 or not fork_available():
        yield from map(task.run, bounds)
        return
    _FORKED[:] = [task]
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            yield from pool.map(_run_forked, bounds)
    finally:
        _FORKED.clear()


def score_arrays(
    prep: Prepared,
    pairs: CandidatePairs,
    model: MatchModel,
    config: MatchConfig,
    progress: Progress | None = None,
    workers: int = 1,
) -> ScoredArrays:
    """Score candidate pairs chunk by chunk; workers > 1 scores chunks in forked processes.

    The prior is the one of a referential of config.referential_size records (this batch's size
    when 0) with the model's duplicate rate.
    """
    tf = record_frequencies(prep, model, from_data=prep.size >= MIN_RECORDS_FOR_DATA_TF)
    prior = model.prior_bits(config.referential_size or prep.size)
    total = len(pairs)
    step = max(config.chunk_size, 1)
    bounds = [(i, min(i + step, total)) for i in range(0, total, step)] or [(0, 0)]
    out: list[ScoredArrays] = []
    if progress:
        progress(0, total)
    task = _Task(prep, pairs, model, config, tf, prior)
    for (_, hi), chunk in zip(bounds, _results(task, bounds, workers), strict=True):
        out.append(chunk)
        if progress and hi:
            progress(hi, total)
    return _concat(out, prior)


def score_candidates(
    prep: Prepared,
    pairs: CandidatePairs,
    model: MatchModel,
    config: MatchConfig,
    progress: Progress | None = None,
    workers: int = 1,
) -> list[ScoredPair]:
    """score_arrays() as ScoredPair objects."""
    return score_arrays(prep, pairs, model, config, progress, workers).to_pairs(prep.ids)


def with_data_u(model: MatchModel, prep: Prepared, pairs: int) -> MatchModel:
    """The model with u taken from random pairs of this input (m, rate and TF unchanged)."""
    u = sample_u(prep, min(pairs, prep.size * (prep.size - 1) // 2))
    return replace(model, u=u)


def with_data_rate(model: MatchModel, prep: Prepared, pairs: CandidatePairs) -> MatchModel:
    """The model with the duplicate rate this input's candidate pairs show."""
    return model.with_rate(estimate_duplicate_rate(prep, pairs.left, pairs.right, model))


# Key spaces whose pairs the background process generates after the u sampling (which takes
# about a third of the blocking's time), while this one generates the others' and then merges:
# both end about together.
BACKGROUND_SPACES = frozenset(("birth_name_year", "names", "name_prefixes", "address"))


def _background_half(
    model: MatchModel, prep: Prepared, cfg: MatchConfig
) -> tuple[MatchModel, SpacePairs]:
    return with_data_u(model, prep, cfg.u_sample_pairs), space_pairs(prep, cfg, BACKGROUND_SPACES)


def block_with_data_model(
    prep: Prepared, model: MatchModel, cfg: MatchConfig, workers: int = 1
) -> tuple[CandidatePairs, BlockingReport, MatchModel]:
    """Candidate pairs, and the model with this input's u and duplicate rate.

    With workers > 1 a forked process samples u and generates the pairs of BACKGROUND_SPACES
    while this one generates the pairs of the other key spaces (the same pairs either way).
    """
    job = partial(_background_half, model, prep, cfg)
    with in_background(job, prep.size, workers > 1) as background:
        own = space_pairs(prep, cfg, SPACES - BACKGROUND_SPACES)
        data_model, other = background()
    pairs, report = merge_pairs([own, other], prep.size)
    return pairs, report, with_data_rate(data_model, prep, pairs)


def dedupe_prepared(
    prep: Prepared,
    model: MatchModel | None = None,
    config: MatchConfig | None = None,
    progress: Progress | None = None,
    workers: int = 1,
) -> tuple[ScoredArrays, BlockingReport]:
    """Block, compare and score an already prepared batch; kept pairs as columns."""
    cfg = config or MatchConfig()
    mdl = model or default_model()
    if prep.size < cfg.estimate_u_min_records:
        pairs, report = prepared_candidate_pairs(prep, cfg)
        return score_arrays(prep, pairs, mdl, cfg, progress, workers), report
    pairs, report, mdl = block_with_data_model(prep, mdl, cfg, workers)
    return score_arrays(prep, pairs, mdl, cfg, progress, workers), report


def dedupe_with_report(
    records: Sequence[IdentityRecord],
    model: MatchModel | None = None,
    config: MatchConfig | None = None,
    progress: Progress | None = None,
    workers: int = 1,
) -> BatchResult:
    """dedupe() plus the blocking report (candidate pairs per pass)."""
    prep = prepare(records)
    arrays, report = dedupe_prepared(prep, model, config, progress, workers)
    return BatchResult(pairs=arrays.to_pairs(prep.ids), report=report)


def dedupe(
    records: Sequence[IdentityRecord],
    model: MatchModel | None = None,
    config: MatchConfig | None = None,
    progress: Progress | None = None,
    workers: int = 1,
) -> list[ScoredPair]:
    """Pairs of records in the match or review band, best evidence kept per pair."""
    return dedupe_with_report(records, model, config, progress, workers).pairs
