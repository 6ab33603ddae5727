"""RPPS+ open extraction (PS_LibreAcces_*): ``|``-separated, no quoting, UTF-8, by header name.

Rows of Personne_activite are grouped into one ``Entity`` per professional (consecutive rows
of the same ``Identification nationale PP``). Empty strings are kept as "" here and become
NULL when stored: it spares a conversion per cell on two million rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from operator import itemgetter
from pathlib import Path
from typing import IO

from referentials.directory.errors import ImportAborted, ImportFileError
from referentials.directory.models import ACTIVITY_DETAILS, ACTIVITY_SEARCHED, DETAILS_SEP
from referentials.directory.parsers.common import (
    Entity,
    Lines,
    ParseReport,
    RawEntity,
    Row,
    column_index,
    fold,
    lines_before,
    luhn_ok,
    split_header,
)
from referentials.directory.parsers.rpps_headers import (
    canonical_header,
    unknown_column_warning,
    unknown_columns,
)

SEP = "|"
IDNPS = "Identification nationale PP"
PERSON_COLUMNS = {
    "idnps": IDNPS,
    "id_type": "Type d'identifiant PP",
    "identifier": "Identifiant PP",
    "civility_code": "Code civilité",
    "practice_civility_code": "Code civilité d'exercice",
    "last_name": "Nom d'exercice",
    "first_name": "Prénom d'exercice",
}
# Derived columns stored beside the person's own (computed only for what gets stored).
PERSON_FIELDS = (*PERSON_COLUMNS, "last_name_norm", "first_name_norm")


def derive_person(person: Row) -> Row:
    """The folded names stored for accent- and case-insensitive prefix search."""
    return (fold(person[5]), fold(person[6]))


ACTIVITY_COLUMNS = {
    "profession_code": "Code profession",
    "profession_label": "Libellé profession",
    "category_code": "Code catégorie professionnelle",
    "skill_type_code": "Code type savoir-faire",
    "skill_code": "Code savoir-faire",
    "skill_label": "Libellé savoir-faire",
    "mode_code": "Code mode exercice",
    "mode_label": "Libellé mode exercice",
    "siret": "Numéro SIRET site",
    "siren": "Numéro SIREN site",
    "finess_site": "Numéro FINESS site",
    "finess_ej": "Numéro FINESS établissement juridique",
    "structure_id": "Identifiant technique de la structure",
    "structure_name": "Raison sociale site",
    "brand_name": "Enseigne commerciale site",
    "address_complement": "Complément destinataire (coord. structure)",
    "address_place": "Complément point géographique (coord. structure)",
    "street_number": "Numéro Voie (coord. structure)",
    "street_repetition": "Indice répétition voie (coord. structure)",
    "street_type": "Code type de voie (coord. structure)",
    "street_name": "Libellé Voie (coord. structure)",
    "distribution": "Mention distribution (coord. structure)",
    "cedex_office": "Bureau cedex (coord. structure)",
    "postal_code": "Code postal (coord. structure)",
    "commune_code": "Code commune (coord. structure)",
    "commune_label": "Libellé commune (coord. structure)",
    "phone": "Téléphone (coord. structure)",
    "phone2": "Téléphone 2 (coord. structure)",
    "fax": "Télécopie (coord. structure)",
    "email": "Adresse e-mail (coord. structure)",
    "department_code": "Code Département (structure)",
    "registration_authority": "Autorité d'enregistrement",
    "sector_code": "Code secteur d'activité",
    "sector_label": "Libellé secteur d'activité",
    "role_code": "Code rôle",
    "role_label": "Libellé rôle",
    "genre_code": "Code genre activité",
}
# The activity as stored: the searched fields, then the others joined in one text.
ACTIVITY_FIELDS = (*ACTIVITY_SEARCHED, "details")
REQUIRED = {IDNPS, "Type d'identifiant PP", "Identifiant PP", "Nom d'exercice", "Code profession"}
SKILL_COLUMNS = {
    "idnps": IDNPS,
    "profession_code": "Code profession",
    "skill_type_code": "Code type savoir-faire",
    "skill_code": "Code savoir-faire",
    "skill_label": "Libellé savoir-faire",
}
DIPLOMA_COLUMNS = {
    "idnps": IDNPS,
    "diploma_type_code": "Code type diplôme obtenu",
    "diploma_code": "Code diplôme obtenu",
    "diploma_label": "Libellé diplôme obtenu",
    "authorisation_type_code": "Code type autorisation",
    "authorisation_code": "Code discipline autorisation",
    "authorisation_label": "Libellé discipline autorisation",
}
ID_LENGTHS = {"8": 11, "0": 9}
# Every column some file of the extraction has that Socle reads (in one file or another).
READ_COLUMNS = frozenset(
    {
        *PERSON_COLUMNS.values(),
        *ACTIVITY_COLUMNS.values(),
        *SKILL_COLUMNS.values(),
        *DIPLOMA_COLUMNS.values(),
    }
)


def _columns(
    line: str,
    columns: dict[str, str],
    required: set[str],
    name: str,
    report: ParseReport | None = None,
) -> tuple[int, list[int]]:
    """(width of the header, our columns' positions) from the header line.

    Published header variants map to our names; columns nobody knows are reported in
    ``report`` (once: only the parse that reads the header passes one).
    """
    header = canonical_header(split_header(line, SEP), set(READ_COLUMNS))
    index = column_index(header, columns, required, name=name)
    width = len(header)
    unknown = unknown_columns(header, set(READ_COLUMNS))
    if report is not None and unknown:
        report.warnings.append(unknown_column_warning(name, unknown))
    # Absent columns (the older 52-column files) read the padding cell at ``width``: "".
    return width, [width if i is None else i for i in index.values()]


def _first_block(lines: Iterator[tuple[int, list[str]]], name: str) -> tuple[str, list[str], int]:
    """(the header line, the first block's remaining lines, the number of the first of them)."""
    number, block = next(lines, (1, []))
    if not block:
        raise ImportFileError(f"{name}: empty file", fields={"file": name})
    return block[0], block[1:], number + 1


def header_line(stream: IO[bytes], name: str) -> str:
    """The first line of a file, read on its own (a part parsed elsewhere needs it)."""
    stream.seek(0)
    raw = stream.readline()
    if not raw.strip():
        raise ImportFileError(f"{name}: empty file", fields={"file": name})
    try:
        return raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{name}: line 1: not valid UTF-8", fields={"file": name, "line": 1}
        ) from exc


def _cut(reader: Lines, number: int, cells: list[str], width: int) -> None:
    """A short last line without end-of-line is a cut file: never import half a record."""
    if reader.unterminated and len(cells) < width:
        raise ImportAborted(
            f"{reader.name}: line {number}: the file ends in the middle of a line "
            "(truncated download?); nothing was changed",
            fields={"file": reader.name, "line": number},
        )


def _blocks(
    lines: Iterator[tuple[int, list[str]]], first: list[str], number: int
) -> Iterator[tuple[int, list[str]]]:
    """The header's block (without the header), then the following ones, from one iterator."""
    yield number, first
    yield from lines


def person_warnings(person: Row) -> list[str]:
    """A Luhn or length failure of the RPPS/ADELI number: a warning, kept with the record.

    Checked when the professional is stored (added or changed), not for unchanged ones.
    """
    idnps, id_type, identifier = person[0], person[1], person[2] or ""
    expected = ID_LENGTHS.get(id_type or "")
    if expected and (len(identifier) != expected or not luhn_ok(identifier)):
        return [f"identifier {idnps} fails the Luhn check or has not {expected} digits"]
    return []


def _expander(positions: list[int], width: int) -> Callable[[list[str]], Entity]:
    """Splits the lines of one professional into its person fields and activities.

    ``positions``: the person's columns, the searched activity columns, then the details.
    """
    n_person, n_searched = len(PERSON_COLUMNS), len(ACTIVITY_SEARCHED)
    person_of = itemgetter(*positions[:n_person])
    searched_of = itemgetter(*positions[n_person : n_person + n_searched])
    details_of = itemgetter(*positions[n_person + n_searched :])
    join = DETAILS_SEP.join

    # Only the older files lack columns: the others need no padding cell.
    pad = width in positions

    def expand(lines: list[str]) -> Entity:
        children: list[Row] = []
        person: Row = ()
        for line in lines:
            cells = line.split(SEP)
            if pad:
                cells.append("")
            if not person:
                person = person_of(cells)
            children.append((person[0], *searched_of(cells), join(details_of(cells))))
        return Entity(person[0] or "", person, children)

    return expand


Span = tuple[int, int]
# The columns read from Personne_activite, in the order ``_expander`` expects them.
_COLUMNS = {
    **PERSON_COLUMNS,
    **{field: ACTIVITY_COLUMNS[field] for field in (*ACTIVITY_SEARCHED, *ACTIVITY_DETAILS)},
}


def _lines(
    stream: IO[bytes], name: str, span: Span | None
) -> tuple[Lines, str, Iterator[tuple[int, list[str]]]]:
    """(the reader, the header line, the blocks of data lines) of the file or of its span."""
    if span is None:
        reader = Lines(stream, name=name)
        lines = iter(reader)
        header, first, number = _first_block(lines, name)
        return reader, header, _blocks(lines, first, number)
    header = header_line(stream, name)
    first_line = lines_before(stream, span[0]) + 1
    stream.seek(span[0])
    reader = Lines(stream, name=name, first_line=first_line, limit=span[1] - span[0])
    return reader, header, iter(reader)


def parse_personne_activite(
    stream: IO[bytes], *, name: str, report: ParseReport, span: Span | None = None
) -> Iterator[Entity]:
    """One entity per professional (its lines, in file order), split only when stored.

    A line is kept without its trailing separator, so its digest does not depend on it.
    ``span``: only the lines between these byte offsets (from ``spans``), numbered as in the
    whole file; the stream must then be seekable.
    """
    reader, header, blocks = _lines(stream, name, span)
    # Of the parts of a file parsed in several processes, the first one reports the header.
    first_part = span is None or reader.first_line == 2
    width, positions = _columns(header, _COLUMNS, REQUIRED, name, report if first_part else None)
    expand = _expander(positions, width)
    key_at, name_at = positions[0], positions[5]
    current: RawEntity | None = None
    current_key = None
    for number, block in blocks:
        for number, line in enumerate(block, start=number):  # noqa: B020
            separators = line.count(SEP)
            if separators == width and line[-1:] == SEP:
                line = line[:-1]
            elif separators != width - 1:
                if line:
                    _cut(reader, number, line.split(SEP), width)
                    report.bad(number, f"{separators + 1} fields where the header has {width}")
                continue
            # Split only up to the key (a new object per cell costs): the name is checked
            # once per professional, on its first line.
            key = line.split(SEP, key_at + 1)[key_at]
            if key != current_key:
                if not key or not line.split(SEP, name_at + 1)[name_at]:
                    report.bad(number, "empty 'Identification nationale PP' or 'Nom d'exercice'")
                    continue
                if current is not None:
                    yield current
                current = RawEntity(key, [line], expand)
                current_key = key
            else:
                current.lines.append(line)  # type: ignore[union-attr]
        report.rows += len(block)
    if current is not None:
        yield current


def parse_simple(
    stream: IO[bytes], columns: dict[str, str], *, name: str, report: ParseReport
) -> Iterator[Row]:
    """Rows of a companion file (savoir-faire, diplomas), projected on ``columns``."""
    lines = iter(Lines(stream, name=name))
    header, first, start = _first_block(lines, name)
    width, positions = _columns(header, columns, {IDNPS}, name, report)
    getter = itemgetter(*positions)
    for number, block in _blocks(lines, first, start):
        for number, line in enumerate(block, start=number):  # noqa: B020
            cells = line.split(SEP)
            if len(cells) == width:
                cells.append("")
            elif len(cells) != width + 1 or cells[width]:
                if line:
                    report.bad(number, f"{len(cells)} fields where the header has {width}")
                continue
            row: Row = getter(cells)
            if not row[0]:
                report.bad(number, "empty 'Identification nationale PP'")
                continue
            yield row
        report.rows += len(block)


def spans(path: Path, parts: int) -> list[Span]:
    """Byte ranges cutting the data lines of ``path`` into about ``parts`` equal parts.

    Each part starts where a new professional does (a key differing from the line before),
    so that no professional's consecutive lines are parsed in two places.
    """
    size = path.stat().st_size
    with path.open("rb") as stream:
        header = header_line(stream, path.name)
        start = stream.tell()
        _width, positions = _columns(header, _COLUMNS, REQUIRED, path.name)
        key_at = positions[0]
        cuts = [start]
        for part in range(1, parts):
            stream.seek(max(start, size * part // parts))
            stream.readline()  # the rest of a line begun before
            cut = _next_key_change(stream, key_at)
            if cuts[-1] < cut < size:
                cuts.append(cut)
    return list(zip(cuts, [*cuts[1:], size], strict=True))


def _next_key_change(stream: IO[bytes], key_at: int) -> int:
    """The offset of the first line, from the stream's position, whose key changes."""
    sep = SEP.encode()
    first = None
    while True:
        here = stream.tell()
        line = stream.readline()
        if not line:
            return here
        key = line.split(sep, key_at + 1)[key_at] if line.count(sep) > key_at else b""
        if first is None:
            first = key
        elif key != first:
            return here
