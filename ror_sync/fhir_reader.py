"""Reading FHIR resources out of Bundles and NDJSON ($export) files, one file or a folder."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ror_sync.errors import RorFormatError, RorSourceError

SUFFIXES = (".json", ".ndjson", ".json.gz", ".ndjson.gz")


@dataclass(frozen=True)
class Located:
    """A resource with where it came from, so that errors can name the file and the entry."""

    where: str
    resource: dict[str, Any]


def source_files(path: Path) -> list[Path]:
    """The readable files of a path: itself, or the FHIR files of a folder in name order."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
        if not files:
            raise RorSourceError(f"{path}: no .json or .ndjson file in this folder")
        return files
    raise RorSourceError(f"{path}: no such file or folder")


def _open(path: Path) -> IO[str]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def read_path(path: Path) -> Iterator[Located]:
    """Every resource of a file or folder, Bundles unwrapped."""
    for file in source_files(path):
        if file.name.endswith((".ndjson", ".ndjson.gz")):
            yield from read_ndjson(file)
        else:
            yield from read_json_file(file)


def read_ndjson(path: Path) -> Iterator[Located]:
    """One resource per line (blank lines skipped); a bad line is an error naming it."""
    with _open(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                resource = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RorFormatError(where, "(json)", f"not JSON: {exc.msg}") from exc
            yield from unwrap(resource, where)


def read_json_file(path: Path) -> Iterator[Located]:
    """A JSON file holding a Bundle or a single resource."""
    with _open(path) as handle:
        try:
            document = json.load(handle)
        except json.JSONDecodeError as exc:
            raise RorFormatError(
                f"{path.name} line {exc.lineno}", "(json)", f"not JSON: {exc.msg}"
            ) from exc
    yield from unwrap(document, path.name)


def unwrap(document: Any, where: str) -> Iterator[Located]:
    """The resources of a Bundle (any type), or the resource itself."""
    if not isinstance(document, dict):
        raise RorFormatError(where, "resourceType", "a JSON object is expected")
    kind = document.get("resourceType")
    if not isinstance(kind, str):
        raise RorFormatError(where, "resourceType", "missing")
    if kind != "Bundle":
        yield Located(where, document)
        return
    entries = document.get("entry") or []
    if not isinstance(entries, list):
        raise RorFormatError(where, "entry", "a list is expected")
    for index, entry in enumerate(entries):
        entry_where = f"{where} entry {index}"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise RorFormatError(entry_where, "entry.resource", "missing or not an object")
        yield from unwrap(resource, entry_where)


def next_link(bundle: dict[str, Any]) -> str | None:
    """The URL of the next page of a searchset, if any."""
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None
