"""FINESS structures: the shared field list, and the legacy etalab CSV extract.

The etalab stock file is ``;``-separated with CSV quoting, historically Windows-1252: it is
decoded as strict UTF-8 first, then as cp1252. ``structureet`` rows come first, then the
``geolocalisation`` rows, whose coordinates are projected (Lambert-93 in metropolitan France,
the local UTM projections overseas) and converted to WGS84 here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import IO

from referentials.directory import reference
from referentials.directory.errors import ImportFileError
from referentials.directory.parsers.common import Entity, ParseReport, fold, luhn_ok

STRUCTURE_FIELDS = (
    "finess", "finess_ej", "name", "long_name", "name_norm", "ej_name", "legal_status",
    "category", "category_label", "sector", "siret", "ape_code", "street_number", "street_type",
    "street_name", "address_complement", "place", "postal_line", "department", "commune_cog",
    "phone", "fax", "email", "opened_on", "closed_on", "source_updated_on", "latitude", "longitude",
    "sanitary_authorisations",
)  # fmt: skip
STRUCTURE_KINDS = {
    "opened_on": "date", "closed_on": "date", "source_updated_on": "date",
    "latitude": "float", "longitude": "float",
}  # fmt: skip
STRUCTUREET_FIELDS = 32
GEO_FIELDS = 6


def structure_entity(values: dict[str, str], report: ParseReport, where: str) -> Entity:
    """An entity from named values; derived fields (sector, normalised name) filled here."""
    values["sector"] = reference.sector_of(values["category"]) or ""
    values["name"] = values.get("name") or values.get("long_name") or values["finess"]
    values["name_norm"] = fold(values["name"])
    finess = values["finess"]
    warnings = []
    if finess.isdigit() and not luhn_ok(finess):
        warnings.append(f"{where}: FINESS {finess} fails the Luhn check")
    report.warnings.extend(warnings)
    return Entity(finess, tuple(values.get(f, "") or "" for f in STRUCTURE_FIELDS), [], warnings)


def iso_date(value: str, *, name: str, where: str) -> str:
    """An ISO date as text ("" when empty); anything else is an error naming the field."""
    if not value:
        return ""
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError as exc:
        raise ValueError(f"{where}: field '{name}' is not a date: {value!r}") from exc


def decode(data: bytes, *, name: str) -> str:
    """Strict UTF-8, else Windows-1252 (what older extracts were written in)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"{name}: neither UTF-8 nor Windows-1252", fields={"file": name}
            ) from exc


def _structureet(cells: list[str], where: str) -> dict[str, str]:
    department = reference.normalise_department(cells[13])
    commune = cells[12].strip()
    prefix = "97" if department.startswith("97") else department[:2]
    return {
        "finess": cells[1].strip(), "finess_ej": cells[2].strip(), "name": cells[3].strip(),
        "long_name": cells[4].strip(), "category": cells[18].strip(),
        "category_label": cells[19].strip(), "siret": cells[22].strip(),
        "ape_code": cells[23].strip(), "street_number": cells[7].strip(),
        "street_type": cells[8].strip(), "street_name": cells[9].strip(),
        "address_complement": (cells[6] or cells[5]).strip(), "place": cells[11].strip(),
        "postal_line": cells[15].strip(), "department": department,
        "commune_cog": prefix + commune if commune else "",
        "phone": cells[16].strip(), "fax": cells[17].strip(),
        "opened_on": iso_date(cells[28], name="dateouv", where=where),
        "source_updated_on": iso_date(cells[30], name="datemaj", where=where),
    }  # fmt: skip


def _width_ok(cells: list[str], width: int) -> bool:
    return len(cells) == width or (len(cells) == width + 1 and cells[-1] == "")


def _geolocate(values: dict[str, str], cells: list[str], where: str) -> None:
    try:
        x, y = float(cells[2]), float(cells[3])
    except ValueError as exc:
        raise ValueError(
            f"{where}: coordinates are not numbers: {cells[2]!r}, {cells[3]!r}"
        ) from exc
    lat, lon = reference.to_wgs84(x, y, values["department"])
    values["latitude"], values["longitude"] = f"{lat:.6f}", f"{lon:.6f}"


def parse_etalab(stream: IO[bytes], *, name: str, report: ParseReport) -> Iterator[Entity]:
    """Structures of an etalab stock file, with WGS84 coordinates when geolocated."""
    reader = csv.reader(io.StringIO(decode(stream.read(), name=name)), delimiter=";")
    found: dict[str, tuple[dict[str, str], str]] = {}
    for number, cells in enumerate(reader, start=1):
        where = f"{name}: line {number}"
        kind = cells[0] if cells else ""
        if (kind == "finess" and number == 1) or not kind:
            continue
        report.rows += 1
        try:
            if kind == "structureet" and _width_ok(cells, STRUCTUREET_FIELDS):
                values = _structureet(cells, where)
                if not values["finess"] or not values["category"]:
                    raise ValueError(f"{where}: empty 'nofinesset' or 'categetab'")
                found[values["finess"]] = (values, where)
            elif kind == "geolocalisation" and _width_ok(cells, GEO_FIELDS):
                if cells[1] in found and cells[2] and cells[3]:
                    _geolocate(found[cells[1]][0], cells, where)
            else:
                raise ValueError(f"{where}: unexpected row '{kind}' with {len(cells)} fields")
        except ValueError as exc:
            report.bad(number, str(exc).removeprefix(f"{where}: "))
    for values, where in found.values():
        yield structure_entity(values, report, where)
