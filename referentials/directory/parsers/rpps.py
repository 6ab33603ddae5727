"""RPPS+ open extraction (PS_LibreAcces_*): ``|``-separated, no quoting, UTF-8, by header name.

Rows of Personne_activite are grouped into one ``Entity`` per professional (consecutive rows
of the same ``Identification nationale PP``). Empty strings are kept as "" here and become
NULL when stored: it spares a conversion per cell on two million rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import IO

from referentials.directory.errors import ImportAborted, ImportFileError
from referentials.directory.parsers.common import (
    Entity,
    Lines,
    ParseReport,
    RawEntity,
    Row,
    column_index,
    fold,
    luhn_ok,
    split_header,
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
ACTIVITY_FIELDS = tuple(ACTIVITY_COLUMNS)
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


def _header(
    lines: Iterator[tuple[int, list[str]]],
    columns: dict[str, str],
    required: set[str],
    name: str,
) -> tuple[int, list[int], list[str], int]:
    """(width, our columns' positions, the first block's remaining lines, their first number)."""
    number, block = next(lines, (1, []))
    if not block:
        raise ImportFileError(f"{name}: empty file", fields={"file": name})
    header = split_header(block[0], SEP)
    index = column_index(header, columns, required, name=name)
    width = len(header)
    # Absent columns (the older 52-column files) read the padding cell at ``width``: "".
    return width, [width if i is None else i for i in index.values()], block[1:], number + 1


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
    """Splits the lines of one professional into its person fields and activities."""
    n_person = len(PERSON_COLUMNS)
    person_of = itemgetter(*positions[:n_person])
    activity_of = itemgetter(*positions[n_person:])

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
            children.append(activity_of(cells))
        return Entity(person[0] or "", person, children)

    return expand


def parse_personne_activite(
    stream: IO[bytes], *, name: str, report: ParseReport
) -> Iterator[Entity]:
    """One entity per professional (its lines, in file order), split only when stored.

    A line is kept without its trailing separator, so its digest does not depend on it.
    """
    reader = Lines(stream, name=name)
    lines = iter(reader)
    columns = {**PERSON_COLUMNS, **ACTIVITY_COLUMNS}
    width, positions, first, start = _header(lines, columns, REQUIRED, name)
    expand = _expander(positions, width)
    key_at, name_at = positions[0], positions[5]
    current: RawEntity | None = None
    current_key = None
    for number, block in _blocks(lines, first, start):
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
    reader = Lines(stream, name=name)
    lines = iter(reader)
    width, positions, first, start = _header(lines, columns, {IDNPS}, name)
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
