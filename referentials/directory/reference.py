"""Shipped reference tables: FINESS category -> sector, department -> region, projections."""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from pyproj import Transformer

SECTORS = ("sanitaire", "medico_social", "social", "coordination", "ville")
# Overseas departments are written 9A..9F in the legacy FINESS extract.
OVERSEAS = {"9A": "971", "9B": "972", "9C": "973", "9D": "974", "9E": "975", "9F": "976"}
# Coordinates of the FINESS extracts are in the legal projection of each territory.
EPSG_BY_DEPARTMENT = {"971": 5490, "972": 5490, "973": 2972, "974": 2975, "976": 4471}
EPSG_METROPOLE = 2154


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
    """The department of a commune COG code (overseas communes carry three digits)."""
    return cog[:3] if cog.startswith("97") else cog[:2]


@lru_cache(maxsize=8)
def _transformer(epsg: int) -> Transformer:
    return Transformer.from_crs(epsg, 4326, always_xy=True)


def epsg_of_department(department: str) -> int:
    return EPSG_BY_DEPARTMENT.get(department, EPSG_METROPOLE)


def to_wgs84(x: float, y: float, department: str) -> tuple[float, float]:
    """(latitude, longitude) of projected coordinates, in the department's projection."""
    lon, lat = _transformer(epsg_of_department(department)).transform(x, y)
    return lat, lon
