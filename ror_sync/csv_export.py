"""CSV renderings of the completeness, the actionable list and the e-parcours indicators."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from ror_sync.completeness import StructureResult

COUNT_COLUMNS = (
    "perimeter",
    "finalised",
    "in_progress",
    "to_do",
    "rate",
    "target",
    "gap_to_target",
)


def wants_csv(request: Request, format: str | None) -> bool:
    """``?format=csv`` or ``Accept: text/csv``."""
    if format is not None:
        return format.lower() == "csv"
    return "text/csv" in request.headers.get("accept", "")


def render(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=list(columns), delimiter=";", extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})
    return buffer.getvalue()


def response(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def completeness_rows(rows: list[dict[str, Any]], group_by: Sequence[str]) -> str:
    return render(rows, [*group_by, *COUNT_COLUMNS])


def structures(results: Iterable[StructureResult]) -> str:
    """One line per elementary unit (or per EG × champ without any unit)."""
    lines: list[dict[str, Any]] = []
    for r in results:
        base = {
            "finess": r.finess,
            "name": r.name,
            "region": r.region,
            "department": r.department,
            "sector": r.sector,
            "champ": r.champ,
            "category": r.category,
            "status": r.status,
        }
        if not r.units:
            lines.append({**base, "missing": "aucune unité élémentaire ouverte"})
        for u in r.units:
            lines.append(
                {
                    **base,
                    "offer_id": u.offer_id,
                    "unit_name": u.name,
                    "unit_status": u.status,
                    "missing": "|".join(u.missing),
                }
            )
    return render(
        lines,
        [
            "finess",
            "name",
            "region",
            "department",
            "sector",
            "champ",
            "category",
            "status",
            "offer_id",
            "unit_name",
            "unit_status",
            "missing",
        ],
    )


def e_parcours(report: dict[str, Any]) -> str:
    lines = [
        {
            "quarter": report["quarter"],
            "indicator": f"ror_completeness_{s['sector']}",
            "numerator": s["finalised"],
            "denominator": s["perimeter"],
            "rate": s["rate"],
            "target": s["target"],
        }
        for s in report["completeness"]
    ] + [
        {
            "quarter": report["quarter"],
            "indicator": i["key"],
            "numerator": i["numerator"],
            "denominator": i["denominator"],
            "rate": i["rate"],
            "target": i["target"],
        }
        for i in report["indicators"]
    ]
    return render(lines, ["quarter", "indicator", "numerator", "denominator", "rate", "target"])
