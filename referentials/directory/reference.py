"""Shipped reference tables: FINESS category -> sector, department -> region, projections."""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from pyproj import Transformer

SECTORS = ("sanitaire", "medico_social", "social", "coordination", "ville")
# Overseas departments are written 9A..9F in the legacy FINESS extract.
OVERSEAS = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9E": "975", "9F": "976"}
# Coordinates of the FINESS extracts are in the legal projection of each territory:
# Lambert-93 in metropolitan France, the local UTM zone overseas (Lambert NC in New Caledonia).
EPSG_BY_DEPARTMENT = {
    "971": 5490, "972": 5490, "973": 2972, "974": 2975, "975": 4467, "976": 4471,
    "977": 5490, "978": 5490, "986": 8903, "987": 3297, "988": 3163,
}  # fmt: skip
EPSG_METROPOLE = 2154
# Overseas departments and collectivities: their COG codes (and department) have 3 digits.
OVERSEAS_PREFIXES = ("97", "98")
# Rough (lat min, lat max, lon min, lon max) of each territory: a position outside is not
# that site's (swapped pairs, a projected pair read as degrees, a corrupted 0,0).
BOUNDS = {
    "metropole": (41.0, 51.5, -5.5, 10.0),
    "971": (15.8, 18.2, -63.2, -60.9), "972": (14.3, 15.0, -61.3, -60.7),
    "973": (2.0, 6.0, -54.7, -51.5), "974": (-21.5, -20.8, 55.1, 55.9),
    "975": (46.7, 47.2, -56.5, -56.0), "976": (-13.1, -12.5, 44.9, 45.4),
    "977": (17.8, 18.0, -63.0, -62.7), "978": (18.0, 18.2, -63.2, -62.9),
    "986": (-14.5, -13.1, -178.3, -176.0), "987": (-28.0, -7.0, -155.0, -134.0),
    "988": (-23.0, -19.5, 163.5, 168.5),
}  # fmt: skip


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("referentials.directory.data").joinpath(name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines(), delimiter=";"))


@lru_cache(maxsize=1)
def category_sectors() -> dict[str, str]:
    """FINESS category (3 digits) -> sector, from the shipped mapping."""
    out = {row["categetab"].strip(): row["sector"].strip() for row in _read("category_sectors.csv")}
    unknown = {s for s in out.values() if s not in SECTORS}
    if unknown:
        raise ValueError(f"category_sectors.csv: unknown sector(s) {sorted(unknown)}")
    return out


@lru_cache(maxsize=1)
def department_regions() -> dict[str, str]:
    """Department code -> INSEE region code, from the shipped table."""
    return {row["department"]: row["region"] for row in _read("department_regions.csv")}


def sector_of(category: str) -> str | None:
    return category_sectors().get(category.strip().zfill(3))


def region_of(department: str) -> str | None:
    return department_regions().get(normalise_department(department))


def normalise_department(code: str) -> str:
    """'9D' -> '974', '1' -> '01', '2a' -> '2A'."""
    code = code.strip().upper()
    code = OVERSEAS.get(code, code)
    return code.zfill(2) if code.isdigit() and len(code) < 2 else code


def department_of_commune(cog: str) -> str:
    """The department of a commune COG code (overseas communes carry three digits).

    97x are the overseas departments and Saint-Pierre, Saint-Barthélemy, Saint-Martin; 98x
    Wallis-et-Futuna (986), French Polynesia (987), New Caledonia (988).
    """
    return cog[:3] if cog.startswith(OVERSEAS_PREFIXES) else cog[:2]


def plausible(lat: float, lon: float, department: str) -> bool:
    """Whether a WGS84 position lies in the territory of ``department``."""
    south, north, west, east = BOUNDS.get(department, BOUNDS["metropole"])
    return south <= lat <= north and west <= lon <= east


@lru_cache(maxsize=8)
def _transformer(epsg: int) -> Transformer:
    return Transformer.from_crs(epsg, 4326, always_xy=True)


def epsg_of_department(department: str) -> int:
    return EPSG_BY_DEPARTMENT.get(department, EPSG_METROPOLE)


def to_wgs84(x: float, y: float, department: str) -> tuple[float, float]:
    """(latitude, longitude) of projected coordinates, in the department's projection."""
    lon, lat = _transformer(epsg_of_department(department)).transform(x, y)
    return lat, lon
