"""The FINESS+ structures file (``finess-structures-journalier-*.json``), as ANS publishes it.

One entity per EG (``pmej[].ege[]``), streamed with ijson (the national file holds about a
hundred thousand sites). Read per site: its identifiers, names, category, the geographical
address (``usageAdresse`` 03, else the first), its position (``finess_geo``), telephone, fax
and e-mail (``contact[].telecom``), state and dates; of its legal entity (PM-EJ): number,
name, legal status, APE code. Nomenclature values may be bare codes or ``{code, libelle}``.
Every other field met is named in one warning of the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import ijson

from referentials.directory import reference
from referentials.directory.parsers.common import Entity, ParseReport
from referentials.directory.parsers.finess_activities import Authorisations, code
from referentials.directory.parsers.finess_csv import iso_date, structure_entity
from referentials.directory.parsers.finess_geo import coordinates_present, position
from referentials.directory.parsers.unread import UnreadFields, top_level_keys

GEOGRAPHIC_ADDRESS = "03"
MAIN_CONTACT = "01"
_PM = "pmej[].informationsGeneralesPMEJ."
_EGE = "pmej[].ege[]."
_ADDRESS = (
    "usageAdresse", "numeroVoie", "typeVoie", "libelleVoie", "complementVoie", "lieuDit",
    "cogCommune", "codePostal", "ligneAcheminement",
)  # fmt: skip
_COORDINATES = ("coordonneeX", "coordonneeY", "directionLatitude", "directionLongitude")
_EGE_INFO = (
    "numFinessEge", "nomEgeCourt", "nomEgeLong", "siret", "dateOuverture", "dateFermeture",
    "egeId",
)  # fmt: skip
READ_PATHS = frozenset(
    {_PM + f for f in ("numFinessPm", "denominationPm", "statutJuridique", "codeApe")}
    | {_EGE + "informationsGeneralesEGE." + f for f in _EGE_INFO}
    | {_EGE + f for f in ("categorieentiteGeographiqueExercice", "etatObjet", "dateDerniereMaj")}
    | {_EGE + "adresse[]." + f for f in _ADDRESS}
    | {_EGE + "adresse[].coordonneesGeographique." + f for f in _COORDINATES}
    | {_EGE + "contact[].typeContact.roleContact"}
    | {_EGE + "contact[].telecom." + f for f in ("telephone", "telecopie", "courriel")}
)
TOP_LEVEL_READ = frozenset({"schemaVersion", "generatedAt", "metadata", "pmej"})


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _address(ege: dict[str, Any]) -> dict[str, Any]:
    addresses = [a for a in ege.get("adresse") or [] if isinstance(a, dict)]
    geographic = [a for a in addresses if code(a.get("usageAdresse")) == GEOGRAPHIC_ADDRESS]
    return (geographic or addresses or [{}])[0]


def _telecom(ege: dict[str, Any]) -> dict[str, str]:
    """Telephone, fax, e-mail: the main contact's (role 01) first, then any other's."""
    contacts = [c for c in ege.get("contact") or [] if isinstance(c, dict)]
    contacts.sort(key=lambda c: code((c.get("typeContact") or {}).get("roleContact")) != "01")
    out = {"phone": "", "fax": "", "email": ""}
    for contact in contacts:
        telecom = contact.get("telecom") or {}
        for ours, theirs in (("phone", "telephone"), ("fax", "telecopie"), ("email", "courriel")):
            out[ours] = out[ours] or _text(telecom.get(theirs))
    return out


def _postal_line(address: dict[str, Any]) -> str:
    postal_code, line = _text(address.get("codePostal")), _text(address.get("ligneAcheminement"))
    # FINESS+ gives the postal code apart; the legacy extract held "69400 VILLEFRANCHE".
    return line if not postal_code or line.startswith(postal_code) else f"{postal_code} {line}"


def _ege_values(pm: dict[str, Any], ege: dict[str, Any], where: str) -> dict[str, str]:
    info = ege.get("informationsGeneralesEGE") or {}
    category = ege.get("categorieentiteGeographiqueExercice")
    address = _address(ege)
    cog = _text(address.get("cogCommune"))
    closed = iso_date(_text(info.get("dateFermeture")), name="dateFermeture", where=where)
    values = {
        "finess": _text(info.get("numFinessEge")), "finess_ej": _text(pm.get("numFinessPm")),
        "name": _text(info.get("nomEgeCourt")), "long_name": _text(info.get("nomEgeLong")),
        "ej_name": _text(pm.get("denominationPm")), "legal_status": code(pm.get("statutJuridique")),
        "ape_code": _text(pm.get("codeApe")),
        "category": code(category).zfill(3) if code(category) else "",
        "category_label": _text(category.get("libelle")) if isinstance(category, dict) else "",
        "siret": _text(info.get("siret")), "street_number": _text(address.get("numeroVoie")),
        "street_type": code(address.get("typeVoie")),
        "street_name": _text(address.get("libelleVoie")),
        "address_complement": _text(address.get("complementVoie")),
        "place": _text(address.get("lieuDit")), "postal_line": _postal_line(address),
        "department": reference.department_of_commune(cog) if cog else "", "commune_cog": cog,
        "opened_on": iso_date(_text(info.get("dateOuverture")), name="dateOuverture", where=where),
        "source_updated_on": iso_date(
            _text(ege.get("dateDerniereMaj")), name="dateDerniereMaj", where=where
        ),
        # A site no longer active without a closing date is closed as of its last update.
        "closed_on": closed,
        **_telecom(ege),
    }  # fmt: skip
    if not closed and code(ege.get("etatObjet")) not in ("", "A"):
        values["closed_on"] = values["source_updated_on"]
    return values


def _locate(values: dict[str, str], geo: Any, report: ParseReport, where: str) -> None:
    found = position(geo, values["department"]) if values["department"] else None
    if found is not None:
        values["latitude"], values["longitude"] = f"{found[0]:.6f}", f"{found[1]:.6f}"
    elif coordinates_present(geo):
        report.warnings.append(f"{where}: coordonneesGeographique not usable in any layout")


def parse_finess_json(
    stream: IO[bytes], *, name: str, report: ParseReport, authorisations: Authorisations
) -> Iterator[Entity]:
    """One entity per EG (site) of the FINESS+ structures file, with its activities."""
    unread = UnreadFields(READ_PATHS)
    for pm_number, pmej in enumerate(ijson.items(stream, "pmej.item")):
        unread.visit(pmej, "pmej[]")
        pm = pmej.get("informationsGeneralesPMEJ") or {}
        for ege_number, ege in enumerate(pmej.get("ege") or []):
            where = f"{name}: pmej[{pm_number}].ege[{ege_number}]"
            report.rows += 1
            try:
                values = _ege_values(pm, ege, where)
            except (ValueError, TypeError, AttributeError) as exc:
                report.bad(report.rows, str(exc))
                continue
            if not values["finess"] or not values["category"] or not values["department"]:
                report.bad(report.rows, f"{where}: numFinessEge, category or cogCommune missing")
                continue
            _locate(values, _address(ege).get("coordonneesGeographique"), report, where)
            values["sanitary_authorisations"] = authorisations.codes_of(values["finess"])
            entity = structure_entity(values, report, where)
            entity.children = [
                (values["finess"], *row) for row in authorisations.rows.get(values["finess"], [])
            ]
            yield entity
    stream.seek(0)
    for key in top_level_keys(stream):
        if key not in TOP_LEVEL_READ:
            unread.note(key)
    warning = unread.warning(name)
    if warning:
        report.warnings.append(warning)
