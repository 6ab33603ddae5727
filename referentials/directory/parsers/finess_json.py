"""The FINESS+ JSON feed (ANS): ``pmej[].ege[]`` structures, plus the activities file.

Both are streamed with ijson (the national file holds about a hundred thousand sites).
``coordonneesGeographique`` is read as WGS84 ``latitude``/``longitude`` when present, else as
projected ``coordX``/``coordY``, converted with the projection of the site's department.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import IO, Any

import ijson

from referentials.directory import reference
from referentials.directory.parsers.common import Entity, ParseReport
from referentials.directory.parsers.finess_csv import iso_date, structure_entity


def _code(value: Any) -> str:
    """A nomenclature value, given either as a bare code or as {code, libelle}."""
    if isinstance(value, dict):
        return str(value.get("code") or "").strip()
    return str(value or "").strip()


def _label(value: Any) -> str:
    return str(value.get("libelle") or "").strip() if isinstance(value, dict) else ""


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _authorisation_active(item: dict[str, Any], today: date) -> bool:
    if _text(item.get("etatObjet")) not in ("", "A"):
        return False
    end = _text(item.get("dateFinAutorisation") or item.get("dateFin"))[:10]
    return not end or end >= today.isoformat()


def read_authorisations(stream_factory: Any, *, today: date | None = None) -> dict[str, set[str]]:
    """Active ``activiteSanitaireRegulee`` codes by EG FINESS, from the activities file."""
    today = today or date.today()
    out: dict[str, set[str]] = {}

    def add(finess: str, item: dict[str, Any]) -> None:
        code = _code(item.get("activiteSanitaireRegulee"))
        if finess and code and _authorisation_active(item, today):
            out.setdefault(finess, set()).add(code.zfill(2))

    with stream_factory() as stream:
        for item in ijson.items(stream, "activitesAutorisees.item"):
            add(_text(item.get("numFinessEge")), item)
    with stream_factory() as stream:
        for ege in ijson.items(stream, "ege.item"):
            for item in ege.get("activitesExercees") or []:
                add(_text(ege.get("numFinessEge")), item)
    return out


def _coordinates(values: dict[str, str], geo: dict[str, Any] | None) -> None:
    if not geo:
        return
    if geo.get("latitude") is not None and geo.get("longitude") is not None:
        lat, lon = float(geo["latitude"]), float(geo["longitude"])
    elif geo.get("coordX") is not None and geo.get("coordY") is not None:
        lat, lon = reference.to_wgs84(
            float(geo["coordX"]), float(geo["coordY"]), values["department"]
        )
    else:
        return
    values["latitude"], values["longitude"] = f"{lat:.6f}", f"{lon:.6f}"


def _phone(channels: Any) -> str:
    for channel in channels or []:
        if isinstance(channel, dict) and _text(channel.get("type")) == "TEL":
            return _text(channel.get("valeur"))
    return ""


def _ege_values(pm: dict[str, Any], ege: dict[str, Any], where: str) -> dict[str, str]:
    info = ege.get("informationsGeneralesEGE") or {}
    category = ege.get("categorieentiteGeographiqueExercice")
    address = (ege.get("adresse") or [{}])[0]
    cog = _text(address.get("cogCommune"))
    closed = iso_date(_text(info.get("dateFermeture")), name="dateFermeture", where=where)
    values = {
        "finess": _text(info.get("numFinessEge")), "finess_ej": _text(pm.get("numFinessPm")),
        "name": _text(info.get("nomEgeCourt")), "long_name": _text(info.get("nomEgeLong")),
        "ej_name": _text(pm.get("denominationPm")),
        "legal_status": _code(pm.get("statutJuridique")),
        "category": _code(category).zfill(3) if _code(category) else "",
        "category_label": _label(category), "siret": _text(info.get("siret")),
        "street_number": _text(address.get("numeroVoie")),
        "street_type": _code(address.get("typeVoie")),
        "street_name": _text(address.get("libelleVoie")), "place": _text(address.get("lieuDit")),
        "postal_line": _text(address.get("ligneAcheminement")),
        "department": reference.department_of_commune(cog) if cog else "",
        "commune_cog": cog,
        "phone": _phone(ege.get("telecommunication")),
        "opened_on": iso_date(_text(info.get("dateOuverture")), name="dateOuverture", where=where),
        "source_updated_on": iso_date(
            _text(ege.get("dateDerniereMaj")), name="dateDerniereMaj", where=where
        ),
        # A site no longer active without a closing date is closed as of its last update.
        "closed_on": closed,
    }  # fmt: skip
    if not closed and _text(ege.get("etatObjet")) not in ("", "A"):
        values["closed_on"] = values["source_updated_on"]
    _coordinates(values, address.get("coordonneesGeographique"))
    return values


def parse_finess_json(
    stream: IO[bytes], *, name: str, report: ParseReport, authorisations: dict[str, set[str]]
) -> Iterator[Entity]:
    """One entity per EG (site) of the FINESS+ structures file."""
    for pm_number, pmej in enumerate(ijson.items(stream, "pmej.item"), start=1):
        pm = pmej.get("informationsGeneralesPMEJ") or {}
        for ege_number, ege in enumerate(pmej.get("ege") or [], start=1):
            where = f"{name}: pmej[{pm_number - 1}].ege[{ege_number - 1}]"
            report.rows += 1
            try:
                values = _ege_values(pm, ege, where)
            except (ValueError, TypeError, AttributeError) as exc:
                report.bad(report.rows, str(exc))
                continue
            if not values["finess"] or not values["category"] or not values["department"]:
                report.bad(report.rows, f"{where}: numFinessEge, category or cogCommune missing")
                continue
            values["sanitary_authorisations"] = ",".join(
                sorted(authorisations.get(values["finess"], ()))
            )
            yield structure_entity(values, report, where)
