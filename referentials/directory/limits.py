"""When a directory file is refused rather than applied, and the counts of a diff."""

from __future__ import annotations

from dataclasses import dataclass

from referentials.directory.errors import ImportAborted
from referentials.directory.parsers.common import ParseReport


@dataclass(frozen=True)
class Limits:
    """When a file is refused rather than applied."""

    max_bad_line_share: float = 0.01
    # A file losing this share of the stored entities is more likely cut than true.
    max_removed_share: float = 0.5


@dataclass
class Counts:
    entities: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0


def check_limits(report: ParseReport, counts: Counts, stored_active: int, limits: Limits) -> None:
    """Refuse a file with too many malformed lines, or one that would remove too much."""
    if report.bad_lines and report.bad_lines > limits.max_bad_line_share * max(report.rows, 1):
        shown = "; ".join(report.problems[:5])
        raise ImportAborted(
            f"{report.bad_lines} malformed line(s) of {report.rows} exceed the allowed share "
            f"({limits.max_bad_line_share:.2%}); nothing was changed. First: {shown}",
            fields={"bad_lines": report.bad_lines, "rows": report.rows},
        )
    if stored_active and counts.removed > limits.max_removed_share * stored_active:
        raise ImportAborted(
            f"the file would remove {counts.removed} of {stored_active} stored entries "
            f"(more than {limits.max_removed_share:.0%}): truncated extract? nothing was changed",
            fields={"removed": counts.removed, "stored": stored_active},
        )


def check_early(report: ParseReport, limits: Limits) -> None:
    """Stop reading a file that is clearly bad, rather than parse it to the end."""
    if report.rows >= 10_000:
        check_limits(report, Counts(), 0, limits)
