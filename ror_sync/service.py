"""ROR completeness: computed from the FINESS directory and the ROR, snapshotted per sync."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from referentials.core.db import utcnow
from referentials.core.errors import ValidationFailed
from referentials.core.settings import RorSettings
from referentials.directory import service as directory_service
from ror_sync import aggregation, codes, completeness, repository, store
from ror_sync.completeness import StructureResult
from ror_sync.models import RorOrganization, RorSnapshotRow


@dataclass(frozen=True)
class Scope:
    """Which part of the territory a completeness question is about."""

    region: str | None = None
    department: str | None = None


def targets(settings: RorSettings) -> dict[str, float | None]:
    """The completeness target of each sector."""
    return {s: getattr(settings.targets, s) for s in codes.SECTORS}


def parse_group_by(raw: str | None) -> list[str]:
    """``region,sector`` → fields, checked; sector by default."""
    fields = [f.strip() for f in (raw or "sector").split(",") if f.strip()]
    unknown = [f for f in fields if f not in aggregation.GROUP_FIELDS]
    if unknown or not fields:
        raise ValidationFailed(
            f"group_by takes {', '.join(aggregation.GROUP_FIELDS)}; got {raw!r}",
            fields={"group_by": raw},
        )
    return list(dict.fromkeys(fields))


def evaluate(session: Session, scope: Scope, today: date | None = None) -> list[StructureResult]:
    """Every EG × champ of the perimeter in ``scope`` with its status and missing items."""
    structures = list(
        directory_service.structure_facts(
            session, region=scope.region, department=scope.department, active_only=True
        )
    )
    narrow = scope.region is not None or scope.department is not None
    units = repository.units(session, [s.finess for s in structures] if narrow else None)
    return completeness.evaluate(structures, units, today or utcnow().date())


def get_completeness(
    session: Session, settings: RorSettings, *, scope: Scope, group_by: Sequence[str]
) -> dict[str, object]:
    """Rates, counts, targets and gaps, grouped as asked, plus one row per sector."""
    today = utcnow().date()
    return summarise(evaluate(session, scope, today), settings, scope=scope, group_by=group_by)


def summarise(
    results: Sequence[StructureResult],
    settings: RorSettings,
    *,
    scope: Scope,
    group_by: Sequence[str],
) -> dict[str, object]:
    """Grouped counts and the per-sector rows of already evaluated results."""
    rows = aggregation.count_rows(results)
    goal = targets(settings)
    return {
        "reference_date": utcnow().date().isoformat(),
        "region": scope.region,
        "department": scope.department,
        "group_by": list(group_by),
        "rows": aggregation.aggregate(rows, group_by, goal),
        "sectors": aggregation.sector_rows(rows, goal, codes.SECTORS),
    }


def list_structures(
    session: Session,
    *,
    scope: Scope,
    status: str | None = None,
    sector: str | None = None,
    champ: str | None = None,
) -> list[StructureResult]:
    """The actionable list: EG × champ with their status and each unit's missing items."""
    if status is not None and status not in completeness.STATUSES:
        raise ValidationFailed(
            f"status takes {', '.join(completeness.STATUSES)}", fields={"status": status}
        )
    if sector is not None and sector not in codes.SECTORS:
        raise ValidationFailed(
            f"sector takes {', '.join(codes.SECTORS)}", fields={"sector": sector}
        )
    return filter_results(evaluate(session, scope), status=status, sector=sector, champ=champ)


def filter_results(
    results: Sequence[StructureResult],
    *,
    status: str | None = None,
    sector: str | None = None,
    champ: str | None = None,
) -> list[StructureResult]:
    """The results of one status / sector / champ, by department then FINESS."""
    found = [
        r
        for r in results
        if (status is None or r.status == status)
        and (sector is None or r.sector == sector)
        and (champ is None or r.champ == champ)
    ]
    return sorted(found, key=lambda r: (r.department, r.finess, r.champ))


def take_snapshot(session: Session, run_id: int | None, reference_date: date) -> int:
    """Store this sync's completeness counts (every region) for the trend."""
    rows = aggregation.count_rows(evaluate(session, Scope(), reference_date))
    return store.save_snapshot(session, rows, reference_date=reference_date, run_id=run_id)


def stored_counts(row: RorSnapshotRow) -> aggregation.CountRow:
    """A snapshot's stored row as the counts the aggregation works on."""
    return aggregation.CountRow(
        row.region,
        row.department,
        row.sector,
        row.champ,
        row.category,
        row.perimeter,
        row.finalised,
        row.in_progress,
        row.to_do,
    )


def trend(
    session: Session, settings: RorSettings, *, region: str | None = None, limit: int = 24
) -> list[dict[str, object]]:
    """Rate per sector at each of the latest snapshots, oldest first."""
    snaps = repository.snapshots(session, limit=limit)
    rows = repository.snapshot_rows(session, [s.id for s in snaps], region=region)
    by_snapshot: dict[int, list[aggregation.CountRow]] = {}
    for r in rows:
        by_snapshot.setdefault(r.snapshot_id, []).append(stored_counts(r))
    goal = targets(settings)
    return [
        {
            "snapshot_id": s.id,
            "taken_at": s.taken_at.isoformat(),
            "reference_date": s.reference_date.isoformat(),
            "sectors": aggregation.sector_rows(by_snapshot.get(s.id, []), goal, codes.SECTORS),
        }
        for s in snaps
    ]


def is_empty(session: Session) -> bool:
    """True when no ROR resource was ever imported."""
    return repository.count(session, RorOrganization) == 0
