"""CSV front end of the batch deduplication (what `socle dedupe` calls).

Input: UTF-8 CSV with a header holding at least REQUIRED_COLUMNS (OPTIONAL_COLUMNS may follow).
Output: one row per pair in the match or review band: left_id,right_id,score,decision,explanation.
Malformed rows are reported with their line number and skipped; a missing column stops the run.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from matching.batch import dedupe_with_report
from matching.config import MatchConfig
from matching.model import MatchModel, default_model
from matching.records import IdentityRecord
from matching.scoring import explain

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = (
    "source_id",
    "birth_name",
    "first_names",
    "used_name",
    "used_first_name",
    "sex",
    "birth_date",
    "birth_place_code",
    "ins",
)
OPTIONAL_COLUMNS = ("address", "postcode", "city", "phone")
OUTPUT_HEADER = ("left_id", "right_id", "score", "decision", "explanation")
_SEXES = {"M": "M", "F": "F", "": "", "U": "", "I": ""}


class InputError(Exception):
    """The input file cannot be processed at all (e.g. a required column is missing)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class RowError:
    """A skipped input row: its physical line number and why (never its content)."""

    line: int
    message: str


@dataclass(slots=True)
class DedupeSummary:
    """Counts of one run; skipped_rows lists every row that was not used."""

    records: int = 0
    candidate_pairs: int = 0
    matches: int = 0
    reviews: int = 0
    seconds: float = 0.0
    skipped_rows: list[RowError] = field(default_factory=list)


def _check_date(value: str) -> str | None:
    if not value:
        return None
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return "birth_date must be YYYY-MM-DD"
    return None if len(value) == 10 else "birth_date must be YYYY-MM-DD"


class _Shared:
    """Shares equal strings between records: a million rows repeat the same names and places."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._tuples: dict[str, tuple[str, ...]] = {}

    def __call__(self, value: str) -> str:
        return self._values.setdefault(value, value)

    def names(self, value: str) -> tuple[str, ...]:
        found = self._tuples.get(value)
        if found is None:
            found = tuple(self(n) for n in value.split(" ") if n)
            self._tuples[value] = found
        return found


def _to_record(row: dict[str, str], share: _Shared) -> IdentityRecord | str:
    """An IdentityRecord, or the reason the row is malformed."""
    if not row["source_id"].strip():
        return "source_id is empty"
    date = row["birth_date"].strip()
    problem = _check_date(date)
    if problem:
        return problem
    sex = row["sex"].strip().upper()
    if sex not in _SEXES:
        return "sex must be M, F or empty"
    return IdentityRecord(
        id=row["source_id"].strip(),
        birth_name=share(row["birth_name"]),
        first_names=share.names(row["first_names"]),
        used_name=share(row["used_name"]),
        used_first_name=share(row["used_first_name"]),
        sex=_SEXES[sex],
        birth_date=share(date),
        birth_place_code=share(row["birth_place_code"].strip()),
        ins=row["ins"].strip(),
        address=share(row.get("address", "")),
        postcode=share(row.get("postcode", "")),
        city=share(row.get("city", "")),
        phone=row.get("phone", ""),
    )


def read_records(path: str | Path) -> tuple[list[IdentityRecord], list[RowError]]:
    """Parse the input CSV; raise InputError for a missing column, collect row errors."""
    records: list[IdentityRecord] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    share = _Shared()
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise InputError(f"missing column(s): {', '.join(missing)}", line=1)
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                errors.append(RowError(line, f"expected {len(header)} fields, got {len(values)}"))
                continue
            result = _to_record(dict(zip(header, values, strict=True)), share)
            if isinstance(result, str):
                errors.append(RowError(line, result))
            elif result.id in seen:
                errors.append(RowError(line, "duplicate source_id"))
            else:
                seen.add(result.id)
                records.append(result)
    return records, errors


def run_dedupe(
    input_path: str | Path,
    out_path: str | Path,
    model_path: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
    config: MatchConfig | None = None,
) -> DedupeSummary:
    """Read identities, find duplicate pairs, write the pairs CSV and return the counts."""
    start = time.perf_counter()
    model = MatchModel.load(model_path) if model_path else default_model()
    records, errors = read_records(input_path)
    for error in errors:
        log.warning("dedupe: skipped input line %d: %s", error.line, error.message)
    result = dedupe_with_report(records, model, config or MatchConfig(), progress, workers)
    pairs = sorted(result.pairs, key=lambda p: (-p.score, p.left_id, p.right_id))
    with open(out_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(OUTPUT_HEADER)
        for pair in pairs:
            writer.writerow(
                [pair.left_id, pair.right_id, f"{pair.score:.3f}", pair.band, explain(pair)]
            )
    summary = DedupeSummary(
        records=len(records),
        candidate_pairs=result.report.total_pairs,
        matches=sum(p.band == "match" for p in pairs),
        reviews=sum(p.band == "review" for p in pairs),
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
