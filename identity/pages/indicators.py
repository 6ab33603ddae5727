"""Identity-vigilance indicators: identities by status, the queue's load, merges per week, and
per band the precision observed in the officers' decisions."""

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
class BandPrecision:
    """Pairs of one band decided during a week: merged ones and refused ones."""

    merged: int = 0
    refused: int = 0

    @property
    def decided(self) -> int:
        return self.merged + self.refused

    @property
    def precision(self) -> float | None:
        """Share of the decided pairs that were one person (None: nothing decided)."""
        return self.merged / self.decided if self.decided else None


@dataclass(frozen=True)
class DecisionWeek:
    """Per band, the decisions made during the week starting on ``start``."""

    start: date
    bands: dict[str, BandPrecision]


@dataclass(frozen=True)
class Indicators:
    by_status: dict[str, int]
    active: int
    qualified_share: float  # percent of active identities that are QUAL
    pending_by_band: dict[str, int]
    weeks: list[Week]
    decisions: list[DecisionWeek]


def identities_by_status(session: Session) -> dict[str, int]:
    """Active identities by RNIV status (merged-away identities are not patients any more)."""
    found = repository.active_status_counts(session)
    return {s: found.get(s, 0) for s in STATUSES} | found


def _timestamps(session: Session, since: datetime) -> tuple[list[datetime], list[datetime]]:
    return repository.merge_times_since(session, since)


def per_week(session: Session, *, weeks: int, today: date) -> list[Week]:
    """Merges and undos per week over the last ``weeks`` weeks, oldest first (UTC weeks)."""
    first = _first_monday(today, weeks)
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


def _first_monday(today: date, weeks: int) -> date:
    return today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)


def precision_per_week(session: Session, *, weeks: int, today: date) -> list[DecisionWeek]:
    """Per week and band (the band the pair had when decided), merged and refused pairs.

    It is the precision each band shows in practice: a falling figure for "match" is the first
    sign that the model no longer fits the referential (time to run `socle matching fit`).
    """
    first = _first_monday(today, weeks)
    counts = [{b: [0, 0] for b in BANDS} for _ in range(weeks)]
    since = datetime.combine(first, time.min, tzinfo=UTC)
    for band, status, at in repository.decisions_since(session, since):
        index = (at.astimezone(UTC).date() - first).days // 7
        if 0 <= index < weeks and band in BANDS:
            counts[index][band][0 if status == "merged" else 1] += 1
    return [
        DecisionWeek(first + timedelta(weeks=i), {b: BandPrecision(*counts[i][b]) for b in BANDS})
        for i in range(weeks)
    ]


def compute(session: Session, *, weeks: int = 12, today: date | None = None) -> Indicators:
    """Every figure of the indicators page."""
    by_status = identities_by_status(session)
    active = sum(by_status.values())
    counts = repository.pair_counts(session)
    pending = {b: counts.get(("pending", b), 0) for b in BANDS}
    day = today or datetime.now(UTC).date()
    return Indicators(
        by_status=by_status,
        active=active,
        qualified_share=round(100 * by_status.get("QUAL", 0) / active, 1) if active else 0.0,
        pending_by_band=pending,
        weeks=per_week(session, weeks=weeks, today=day),
        decisions=precision_per_week(session, weeks=weeks, today=day),
    )
