"""Loading a generated population (JSON or CSV) into the mock teleservice.

JSON: a list of objects, or {"persons": [...]}; each object has
  birth_name, given_names (list of strings, civil order), sex ("M"/"F"),
  birth_date ("YYYY-MM-DD"), birth_place (5-character COG), matricule (13 characters),
  and optionally key (2 digits; computed with the NIR rule when absent), oid
  (default 1.2.250.1.213.1.4.8), type_matricule, date_deb, date_fin, and history: a list
  of {matricule, key?, oid?, type_matricule?, date_deb?, date_fin?}.
CSV (UTF-8, header row): birth_name, given_names (space-separated), sex, birth_date,
  birth_place, matricule, and optional columns key, oid, history (";"-separated entries
  "MATRICULE13" or "MATRICULE13KEY", same OID as the active one).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from soap_clients.insi.contract import OID_INS_NIR
from soap_clients.insi.mock.population import InsRecord, Person, nir_key


class PopulationFileError(ValueError):
    """The population file cannot be read; the message names the row, never its traits."""


def load_population_file(path: str | Path) -> list[Person]:
    """Read a JSON or CSV population file (format in this module's docstring)."""
    file = Path(path)
    rows = _json_rows(file) if file.suffix.lower() == ".json" else _csv_rows(file)
    persons = []
    for number, row in enumerate(rows, start=1):
        try:
            persons.append(_person(row))
        except (KeyError, TypeError, ValueError) as exc:
            raise PopulationFileError(f"{file.name}: row {number}: {exc!r}") from exc
    return persons


def _json_rows(file: Path) -> Iterator[Mapping[str, Any]]:
    data = json.loads(file.read_text(encoding="utf-8"))
    rows = data["persons"] if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise PopulationFileError(f"{file.name}: expected a list of persons")
    yield from rows


def _csv_rows(file: Path) -> Iterator[Mapping[str, Any]]:
    with file.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            given = row.get("given_names") or ""
            history = [
                {"matricule": entry[:13], "key": entry[13:] or None, "oid": row.get("oid")}
                for entry in (row.get("history") or "").split(";")
                if entry.strip()
            ]
            yield {**row, "given_names": given.split(), "history": history}


def _record(data: Mapping[str, Any], default_oid: str) -> InsRecord:
    matricule = str(data["matricule"]).strip().upper()
    if len(matricule) != 13:
        raise ValueError("matricule must have 13 characters")
    return InsRecord(
        matricule13=matricule,
        key=str(data.get("key") or nir_key(matricule)),
        oid=str(data.get("oid") or default_oid),
        type_matricule=data.get("type_matricule") or None,
        date_deb=data.get("date_deb") or None,
        date_fin=data.get("date_fin") or None,
    )


def _person(row: Mapping[str, Any]) -> Person:
    given_names = tuple(str(name) for name in row["given_names"])
    if not given_names:
        raise ValueError("given_names is empty")
    sex = str(row["sex"]).upper()
    if sex not in ("M", "F"):
        raise ValueError("sex must be M or F")
    active = _record(row, OID_INS_NIR)
    history = tuple(_record(entry, active.oid) for entry in row.get("history") or ())
    return Person(
        birth_name=str(row["birth_name"]),
        given_names=given_names,
        sex=sex,
        birth_date=str(row["birth_date"]),
        birth_place=str(row["birth_place"]).upper(),
        active=active,
        history=history,
    )
