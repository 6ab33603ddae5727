"""SVG charts drawn on the server (no JavaScript): rate per sector against its target, trend."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

from ror_sync.codes import SECTOR_LABELS

COLOURS = {
    "sanitaire": "#1f4e9c",
    "medico_social": "#1e7b34",
    "social": "#9a6700",
    "coordination": "#6b3fa0",
    "ville": "#b3261e",
}
TARGET_COLOUR = "#b3261e"


def _pct(value: object) -> str:
    return f"{float(value) * 100:.1f} %" if isinstance(value, int | float) else "—"


def sector_bars(rows: Sequence[dict[str, Any]], width: int = 640) -> Markup:
    """One horizontal bar per sector (rate), with a vertical mark at its target."""
    left, bar_h, gap, scale_w = 150, 24, 14, width - 230
    height = len(rows) * (bar_h + gap) + 30
    parts = [
        f'<svg role="img" aria-labelledby="bars-title" class="chart sector-bars" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        '<title id="bars-title">Taux de peuplement par secteur et cible</title>',
    ]
    for pct in (0, 25, 50, 75, 100):
        x = left + scale_w * pct / 100
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 20}" '
            f'stroke="#d6d6de"/><text x="{x:.1f}" y="{height - 5}" '
            f'text-anchor="middle">{pct} %</text>'
        )
    for i, row in enumerate(rows):
        y = i * (bar_h + gap) + 4
        sector = str(row["sector"])
        rate = float(row["rate"])
        label = escape(SECTOR_LABELS.get(sector, sector))
        parts.append(
            f'<g class="bar" data-sector="{escape(sector)}">'
            f'<text x="{left - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end">{label}</text>'
            f'<rect x="{left}" y="{y}" width="{scale_w * rate:.1f}" height="{bar_h}" '
            f'fill="{COLOURS.get(sector, "#555")}"><title>{label} : {_pct(rate)} '
            f"({row['finalised']} / {row['perimeter']})</title></rect>"
            f'<text x="{left + scale_w * rate + 6:.1f}" y="{y + bar_h * 0.7:.1f}">'
            f"{_pct(rate)} ({row['finalised']}/{row['perimeter']})</text>"
        )
        target = row.get("target")
        if isinstance(target, int | float):
            x = left + scale_w * float(target)
            parts.append(
                f'<line class="target" x1="{x:.1f}" y1="{y - 3}" x2="{x:.1f}" '
                f'y2="{y + bar_h + 3}" stroke="{TARGET_COLOUR}" stroke-width="3">'
                f"<title>Cible {label} : {_pct(target)}</title></line>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def trend_lines(points: Sequence[dict[str, Any]], width: int = 640, height: int = 220) -> Markup:
    """Rate per sector over the snapshots (one polyline per sector)."""
    left, top, bottom, right = 40, 10, 30, 120
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg role="img" aria-labelledby="trend-title" class="chart trend" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        '<title id="trend-title">Évolution du taux de peuplement par secteur</title>',
    ]
    for pct in (0, 50, 100):
        y = top + plot_h * (1 - pct / 100)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'stroke="#d6d6de"/><text x="{left - 4}" y="{y + 4:.1f}" '
            f'text-anchor="end">{pct} %</text>'
        )
    count = len(points)
    step = plot_w / (count - 1) if count > 1 else 0
    sectors = [str(s["sector"]) for s in points[0]["sectors"]] if points else []
    for index, sector in enumerate(sectors):
        coords = []
        for i, point in enumerate(points):
            rate = float(point["sectors"][index]["rate"])
            coords.append(f"{left + step * i:.1f},{top + plot_h * (1 - rate):.1f}")
        colour = COLOURS.get(sector, "#555")
        label = escape(SECTOR_LABELS.get(sector, sector))
        parts.append(
            f'<polyline class="series" data-sector="{escape(sector)}" fill="none" '
            f'stroke="{colour}" stroke-width="2" points="{" ".join(coords)}"/>'
        )
        parts.append(
            f'<text x="{left + plot_w + 8}" y="{top + 14 * (index + 1)}" '
            f'fill="{colour}">{label}</text>'
        )
    for i, point in enumerate(points):
        if count <= 8 or i in (0, count - 1):
            parts.append(
                f'<text x="{left + step * i:.1f}" y="{height - 8}" '
                f'text-anchor="middle">{escape(str(point["reference_date"]))}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
