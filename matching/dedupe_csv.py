"""CSV front end of the batch deduplication (what `socle dedupe` calls).

Input: see csv_input (UTF-8 CSV, REQUIRED_COLUMNS, malformed rows reported and skipped); a clean
file is read by Arrow (csv_columns).
Output: one row per pair in the match or review band: left_id,right_id,score,decision,explanation.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from matching.batch import dedupe_prepared
from matching.config import MatchConfig
from matching.csv_columns import read_columns
from matching.csv_input import (
    OPTIONAL_COLUMNS,
    PARALLEL_BYTES,
    REQUIRED_COLUMNS,
    InputError,
    RowError,
    read_records,
)
from matching.features import helper_process
from matching.model import MatchModel, default_model
from matching.pairs_csv import OUTPUT_HEADER, write_pairs
from matching.prepared import prepare_columns
from matching.scoring import MATCH, REVIEW

log = logging.getLogger(__name__)
__all__ = [
    "OPTIONAL_COLUMNS",
    "OUTPUT_HEADER",
    "REQUIRED_COLUMNS",
    "DedupeSummary",
    "InputError",
    "RowError",
    "read_columns",
    "read_records",
    "run_dedupe",
]


@dataclass(slots=True)
class DedupeSummary:
    """Counts of one run; skipped_rows lists every row that was not used."""

    records: int = 0
    candidate_pairs: int = 0
    matches: int = 0
    reviews: int = 0
    seconds: float = 0.0
    skipped_rows: list[RowError] = field(default_factory=list)


def run_dedupe(
    input_path: str | Path,
    out_path: str | Path,
    model_path: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 0,
    config: MatchConfig | None = None,
) -> DedupeSummary:
    """Read identities, find duplicate pairs, write the pairs CSV and return the counts.

    workers: processes used on a large file (0: one per core).
    """
    start = time.perf_counter()
    model = MatchModel.load(model_path) if model_path else default_model()
    workers = workers or os.cpu_count() or 1
    large = os.path.getsize(input_path) >= PARALLEL_BYTES
    with helper_process(workers > 1 and large) as helper:
        columns, errors = read_columns(input_path, helper)
        prep = prepare_columns(columns, helper=helper)
    for error in errors:
        log.warning("dedupe: skipped input line %d: %s", error.line, error.message)
    del columns
    arrays, report = dedupe_prepared(prep, model, config or MatchConfig(), progress, workers)
    write_pairs(out_path, prep.ids, arrays, workers)
    summary = DedupeSummary(
        records=prep.size,
        candidate_pairs=report.total_pairs,
        matches=int((arrays.bands == MATCH).sum()),
        reviews=int((arrays.bands == REVIEW).sum()),
        seconds=round(time.perf_counter() - start, 3),
        skipped_rows=errors,
    )
    log.info(
        "dedupe: %d records, %d candidate pairs, %d matches, %d reviews",
        summary.records,
        summary.candidate_pairs,
        summary.matches,
        summary.reviews,
    )
    return summary
