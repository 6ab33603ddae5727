"""SVG charts drawn on the server: pages carry no script, so the figures are plain markup.

Every function is pure: data in, an escaped SVG fragment out (``Markup``, safe for Jinja2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

FOR = "#1e7b34"  # evidence that both records are one person
AGAINST = "#b3261e"  # evidence against
NEUTRAL = "#1f4e9c"
AXIS = "#5a5a66"


@dataclass(frozen=True)
class Bar:
    """One weighted field of a pair's explanation."""

    label: str
    level: str
    weight: float


@dataclass(frozen=True)
class Series:
    """One named row of values, one value per category, drawn in one colour."""

    name: str
    values: Sequence[float]
    colour: str


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    # role="img" + <title>: screen readers announce the chart by its title; the pages also
    # give the numbers as text or in a table next to it.
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" class="chart"><title>{escape(title)}</title>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _text(x: float, y: float, content: str, *, anchor: str = "start", fill: str = "#1b1b1f") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">'
        f"{escape(content)}</text>"
    )


def _rect(x: float, y: float, w: float, h: float, fill: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}"/>'


def _number(value: float, suffix: str = "") -> str:
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}".replace(".", ",")
    return text + suffix


def contribution_bars(title: str, bars: Sequence[Bar], *, width: int = 660) -> Markup:
    """Diverging horizontal bars around zero: positive weights to the right, negative left."""
    label_w, row_h, top = 250, 26, 8
    half = (width - label_w - 60) / 2
    zero = label_w + 30 + half
    scale = half / max([abs(b.weight) for b in bars] + [1.0])
    height = top * 2 + row_h * max(len(bars), 1)
    body = [f'<line x1="{zero:.1f}" y1="0" x2="{zero:.1f}" y2="{height}" stroke="{AXIS}"/>']
    for i, bar in enumerate(bars):
        y = top + i * row_h
        body.append(_text(4, y + 17, f"{bar.label} : {bar.level}"))
        length = abs(bar.weight) * scale
        if bar.weight == 0:
            # No evidence either way (a missing value): say so rather than draw nothing.
            body.append(_text(zero + 4, y + 17, "0", fill=AXIS))
        elif bar.weight > 0:
            body.append(_rect(zero, y + 4, length, row_h - 8, FOR))
            body.append(_text(zero + length + 4, y + 17, f"{bar.weight:+.1f}"))
        else:
            body.append(_rect(zero - length, y + 4, length, row_h - 8, AGAINST))
            body.append(_text(zero - length - 4, y + 17, f"{bar.weight:+.1f}", anchor="end"))
    return _svg(width, height, title, body)


def hbar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    colour: str = NEUTRAL,
    maximum: float | None = None,
    suffix: str = "",
    width: int = 520,
) -> Markup:
    """Horizontal bars, one per labelled value (counts by category, a share out of 100)."""
    label_w, row_h, top = 170, 28, 6
    room = width - label_w - 70
    top_value = maximum if maximum is not None else max([v for _, v in items] + [1.0])
    scale = room / (top_value or 1.0)
    height = top * 2 + row_h * max(len(items), 1)
    body = []
    for i, (label, value) in enumerate(items):
        y = top + i * row_h
        length = max(value, 0.0) * scale
        body.append(_text(4, y + 18, label))
        if maximum is not None:
            # A share: draw the full track so the filled part reads against the whole.
            body.append(_rect(label_w, y + 5, room, row_h - 10, "#e3e6ef"))
        body.append(_rect(label_w, y + 5, length, row_h - 10, colour))
        body.append(_text(label_w + length + 6, y + 18, _number(value, suffix)))
    return _svg(width, height, title, body)


def column_chart(
    title: str, categories: Sequence[str], series: Sequence[Series], *, width: int = 760
) -> Markup:
    """Vertical grouped columns: one group per category (a week), one column per series."""
    left, bottom, top, legend_h = 34, 40, 10, 22
    plot_h = 170
    height = legend_h + top + plot_h + bottom
    peak = max([v for s in series for v in s.values] + [1.0])
    group_w = (width - left - 10) / max(len(categories), 1)
    col_w = (group_w - 8) / max(len(series), 1)
    base_y = legend_h + top + plot_h
    body = [f'<line x1="{left}" y1="{base_y}" x2="{width - 6}" y2="{base_y}" stroke="{AXIS}"/>']
    body.append(_text(left - 4, base_y + 4, "0", anchor="end", fill=AXIS))
    body.append(_text(left - 4, legend_h + top + 10, _number(peak), anchor="end", fill=AXIS))
    for k, s in enumerate(series):
        body.append(_rect(left + k * 130, 4, 12, 12, s.colour))
        body.append(_text(left + k * 130 + 16, 15, s.name))
    for i, category in enumerate(categories):
        x0 = left + i * group_w + 4
        for k, s in enumerate(series):
            value = s.values[i]
            h = plot_h * value / peak
            x = x0 + k * col_w
            body.append(_rect(x, base_y - h, col_w - 2, h, s.colour))
            if value:
                body.append(
                    _text(x + (col_w - 2) / 2, base_y - h - 3, _number(value), anchor="middle")
                )
        body.append(_text(x0 + (group_w - 8) / 2, base_y + 16, category, anchor="middle"))
    return _svg(width, height, title, body)
