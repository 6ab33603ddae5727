"""Identity-vigilance indicators: identities by status, the queue's load, merges per week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from identity.referential import repository

STATUSES = ("PROV", "RECUP", "VALI", "QUAL")
BANDS = ("match", "review")


@dataclass(frozen=True)
class Week:
    """Merges made and merges undone during the week starting on ``start`` (a Monday)."""

    start: date
    merges: int
    undos: int


@dataclass(frozen=True)
class Indicators:
    by_status: dict[str, int]
    active: int
    qualified_share: float  # percent of active identities that are QUAL
    pending_by_band: dict[str, int]
    weeks: list[Week]


def identities_by_status(session: Session) -> dict[str, int]:
    """Active identities by RNIV status (merged-away identities are not patients any more)."""
    found = repository.active_status_counts(session)
    return {s: found.get(s, 0) for s in STATUSES} | found


def _timestamps(session: Session, since: datetime) -> tuple[list[datetime], list[datetime]]:
    return repository.merge_times_since(session, since)


def per_week(session: Session, *, weeks: int, today: date) -> list[Week]:
    """Merges and undos per week over the last ``weeks`` weeks, oldest first (UTC weeks)."""
    first = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    since = datetime.combine(first, time.min, tzinfo=UTC)
    merged = [0] * weeks
    undone = [0] * weeks
    # Bucketed here rather than in SQL: week truncation differs between SQLite and PostgreSQL,
    # and twelve weeks of merges is a small set.
    merged_at, undone_at = _timestamps(session, since)
    for counts, stamps in ((merged, merged_at), (undone, undone_at)):
        for at in stamps:
            index = (at.astimezone(UTC).date() - first).days // 7
            if 0 <= index < weeks:
                counts[index] += 1
    return [Week(first + timedelta(weeks=i), merged[i], undone[i]) for i in range(weeks)]


def compute(session: Session, *, weeks: int = 12, today: date | None = None) -> Indicators:
    """Every figure of the indicators page."""
    by_status = identities_by_status(session)
    active = sum(by_status.values())
    counts = repository.pair_counts(session)
    pending = {b: counts.get(("pending", b), 0) for b in BANDS}
    return Indicators(
        by_status=by_status,
        active=active,
        qualified_share=round(100 * by_status.get("QUAL", 0) / active, 1) if active else 0.0,
        pending_by_band=pending,
        weeks=per_week(session, weeks=weeks, today=today or datetime.now(UTC).date()),
    )
