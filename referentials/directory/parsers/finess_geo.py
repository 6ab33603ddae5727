"""The position of a FINESS+ address (``coordonneesGeographique``), in WGS84.

The ANS structures specification gives two pairs: ``directionLatitude``/``directionLongitude``
in WGS84 degrees, and ``coordonneeX``/``coordonneeY`` projected in the territory's legal
projection (Lambert-93 in metropolitan France, the local UTM zone overseas, Lambert NC in New
Caledonia). The published files do not always follow it: in the daily feed the two pairs are
often swapped (degrees under ``coordonnee*``, the projection under ``direction*``), and the
projected pair has X and Y exchanged in ANS's own example. So each layout is tried, the
specified one first, and a position is kept only when it falls in the site's territory.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from referentials.directory import reference

Position = tuple[float, float]


def _number(value: Any) -> float | None:
    """A coordinate as a float; None when absent, not a number (a decimal comma) or infinite."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _candidates(geo: dict[str, Any], department: str) -> Iterator[Position]:
    """(lat, lon) read in every layout, most likely first (as specified, then swapped)."""
    lat, lon = _number(geo.get("directionLatitude")), _number(geo.get("directionLongitude"))
    x, y = _number(geo.get("coordonneeX")), _number(geo.get("coordonneeY"))
    degree_pairs = [(lat, lon), (y, x), (lon, lat), (x, y)]
    for a, b in degree_pairs:
        if a is not None and b is not None and abs(a) <= 90 and abs(b) <= 180:
            yield a, b
    for a, b in ((x, y), (y, x), (lon, lat), (lat, lon)):
        if a is not None and b is not None and (abs(a) > 180 or abs(b) > 180):
            yield reference.to_wgs84(a, b, department)


def position(geo: Any, department: str) -> Position | None:
    """The WGS84 (lat, lon) of ``geo`` in ``department``'s territory, or None."""
    if not isinstance(geo, dict):
        return None
    for lat, lon in _candidates(geo, department):
        if (lat, lon) != (0.0, 0.0) and reference.plausible(lat, lon, department):
            return lat, lon
    return None


def coordinates_present(geo: Any) -> bool:
    """Whether any coordinate value was given (to tell 'none given' from 'unusable')."""
    if not isinstance(geo, dict):
        return False
    names = ("coordonneeX", "coordonneeY", "directionLatitude", "directionLongitude")
    return any(str(geo.get(name) or "").strip() for name in names)
