"""Great-circle distance and the bounding box that prefilters a radius search in SQL."""

from __future__ import annotations

import math
from typing import NamedTuple

EARTH_RADIUS_KM = 6371.0088
# Latitude bands of 0.1 degree (about 11 km): the spatial index is (band, longitude), so a box
# is read as a few short longitude ranges, one per band, instead of a whole latitude band
# across the country.
BANDS_PER_DEGREE = 10


def band_of(latitude: float) -> int:
    """The latitude band a point is indexed under."""
    return math.floor(latitude * BANDS_PER_DEGREE)


class Box(NamedTuple):
    """A latitude/longitude rectangle (degrees) holding every point within a radius."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def bands(self) -> list[int]:
        """The latitude bands the box spans."""
        return list(range(band_of(self.min_lat), band_of(self.max_lat) + 1))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_km: float) -> Box:
    """The smallest rectangle around the spherical cap (exact, so no point is missed)."""
    angle = radius_km / EARTH_RADIUS_KM
    dlat = math.degrees(angle)
    min_lat, max_lat = lat - dlat, lat + dlat
    if min_lat <= -90 or max_lat >= 90 or angle >= math.pi / 2:
        # A pole inside the cap: every longitude.
        return Box(max(min_lat, -90.0), min(max_lat, 90.0), -180.0, 180.0)
    dlon = math.degrees(math.asin(min(1.0, math.sin(angle) / math.cos(math.radians(lat)))))
    min_lon, max_lon = lon - dlon, lon + dlon
    if min_lon < -180 or max_lon > 180:
        # Across the antimeridian (Pacific territories): keep every longitude rather than split.
        return Box(min_lat, max_lat, -180.0, 180.0)
    return Box(min_lat, max_lat, min_lon, max_lon)
