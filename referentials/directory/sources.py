"""Locating the files of an extract: a zip, a plain or gzipped file, and its companions."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from referentials.directory.errors import ImportFileError

Opener = Callable[[], AbstractContextManager[IO[bytes]]]


@dataclass(frozen=True)
class Member:
    """One file of an extract: its display name and how to open it (binary, streamed)."""

    name: str
    open: Opener
    # Set for a plain (uncompressed) file on disk: one that can be read by parts.
    path: Path | None = None
    # Its uncompressed size, when known without reading it.
    size: int | None = None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _file(path: Path) -> Member:
    if path.suffix == ".gz":
        return Member(path.name, lambda: cast(IO[bytes], gzip.open(path, "rb")))
    return Member(path.name, lambda: path.open("rb"), path, path.stat().st_size)


def _zip_member(path: Path, inner: str) -> Member:
    def opener() -> AbstractContextManager[IO[bytes]]:
        archive = zipfile.ZipFile(path)
        return _Closing(archive, archive.open(inner))

    with zipfile.ZipFile(path) as archive:
        size = archive.getinfo(inner).file_size
    return Member(f"{path.name}!{inner}", opener, size=size)


@contextmanager
def unpacked(member: Member, folder: Path) -> Iterator[Path]:
    """``member`` written out as a plain file in ``folder`` (removed afterwards)."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="unpacked-", suffix=".txt", dir=folder)
    target = Path(name)
    try:
        with os.fdopen(handle, "wb") as out, member.open() as stream:
            shutil.copyfileobj(stream, out, 8 << 20)
        yield target
    finally:
        target.unlink(missing_ok=True)


class _Closing(AbstractContextManager[IO[bytes]]):
    """A zip member stream that also closes its archive."""

    def __init__(self, archive: zipfile.ZipFile, stream: IO[bytes]) -> None:
        self.archive, self.stream = archive, stream

    def __enter__(self) -> IO[bytes]:
        return self.stream

    def __exit__(self, *exc: object) -> None:
        self.stream.close()
        self.archive.close()


def _find(names: list[str], marker: str) -> str | None:
    hits = sorted(n for n in names if marker.lower() in Path(n).name.lower())
    return hits[-1] if hits else None


def rpps_files(path: Path) -> tuple[Member, Member | None, Member | None]:
    """Personne_activite, and the savoir-faire and diploma files when present."""
    if not path.exists():
        raise ImportFileError(f"{path}: no such file", fields={"path": str(path)})
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        main = _find(names, "Personne_activite")
        if main is None:
            raise ImportFileError(
                f"{path.name}: no PS_LibreAcces_Personne_activite file in the zip",
                fields={"path": str(path)},
            )
        skills, diplomas = _find(names, "SavoirFaire"), _find(names, "Dipl_AutExerc")
        return (
            _zip_member(path, main),
            _zip_member(path, skills) if skills else None,
            _zip_member(path, diplomas) if diplomas else None,
        )
    siblings = [p.name for p in path.parent.iterdir() if p.suffix.lower() in (".txt", ".csv")]
    skills, diplomas = _find(siblings, "SavoirFaire"), _find(siblings, "Dipl_AutExerc")
    return (
        _file(path),
        _file(path.parent / skills) if skills else None,
        _file(path.parent / diplomas) if diplomas else None,
    )


def finess_files(path: Path, activities: Path | None = None) -> tuple[str, Member, Member | None]:
    """("json" | "csv", the structures file, the FINESS+ activities file if given).

    The activities file is only ever the one given: a file lying beside the structures one
    may be anything (a JSON Schema, another day's file).
    """
    if not path.exists():
        raise ImportFileError(f"{path}: no such file", fields={"path": str(path)})
    name = path.name.lower()
    if name.endswith((".json", ".json.gz")):
        if activities is not None and not activities.is_file():
            raise ImportFileError(
                f"{activities}: no such activities file", fields={"activities": str(activities)}
            )
        return "json", _file(path), _file(activities) if activities else None
    if name.endswith((".csv", ".csv.gz", ".txt")):
        if activities is not None:
            raise ImportFileError(
                f"{path.name}: an activities file goes with a FINESS+ .json file only",
                fields={"activities": str(activities)},
            )
        return "csv", _file(path), None
    raise ImportFileError(
        f"{path.name}: expected a FINESS+ .json(.gz) or an etalab .csv file",
        fields={"path": str(path)},
    )
