"""The FINESS+ activities file (``finess-activites-journalier-*.json``), as ANS publishes it.

``pmej[]`` holds, per legal entity, its authorised activities (``activitesAutorisees[]``) and,
per site, the activities exercised there (``ege[].activitesExercees[]``, keyed by
``numFinessEge``); an exercised activity names its authorisation by
``identifiantAutorisation`` = the authorised one's ``activiteAeId``. Each activity is
``{caracteristiquesGeneriques, nature: {codeNature, caracteristiquesSpecifiques}}``
(schema 1.0.1 and the published files); the 1.0.0 schema's ``natureAMF: {...}`` wrapping is
read too. Sites get one stored row per activity; the active sanitary authorisations (natures
AMF, AASA, ASR: TRE_R274 codes) are what the ROR completeness counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any

import ijson

from referentials.directory.errors import ImportFileError
from referentials.directory.parsers.finess_csv import iso_date
from referentials.directory.parsers.unread import UnreadFields, top_level_keys

Opener = Callable[[], AbstractContextManager[IO[bytes]]]
ACTIVITY_FIELDS = (
    "level", "nature", "activity_code", "modality_code", "form_code", "authorisation_id",
    "arhgos_number", "starts_on", "ends_on", "state",
)  # fmt: skip
# Per nature: the (activity, modality, form) keys of its ``typeActivite<nature>`` block.
NATURE_KEYS = {
    "AMF": ("activiteAMF", "modaliteActivite", "formeActivite"),
    "AASA": ("activiteSanitaireRegulee", "modaliteActivite", "formeActivite"),
    "ASR": ("activiteSanitaireRegulee", "modaliteActivite", "formeActivite"),
    "AMM": ("activiteAMM", "modaliteAMM", "mentionAMM"),
    "ASDR": ("activiteSanitaireDiverseRegulee", "modeFonctionnement", "public"),
    "ASOCR": ("activiteSocialeRegulee", "modeFonctionnement", "public"),
    "AMSR": ("activiteSocialeRegulee", "modeFonctionnement", "public"),
    "AER": ("activiteEnseignementRegulee", "modeFonctionnement", "public"),
    "EML": ("typeEmlId",),
}
# Natures whose activity code is a sanitary authorisation (activiteSanitaireRegulee, TRE_R274).
SANITARY_NATURES = frozenset({"AMF", "AASA", "ASR"})
GENERIC_READ = (
    "activiteAeId", "etatObjet", "identifiantAutorisation", "numAutorisationArhgos",
    "dateDebutActiviteAutorisee", "dateFinActiviteAutorisee", "dateFinEffectiveActivite",
    "dateCaduciteAutorisation", "egeId",
)  # fmt: skip
# File metadata (schema 1.0.0 puts it at the top, 1.0.1 under ``metadata``) and the content.
TOP_LEVEL_READ = frozenset({"schemaVersion", "generatedAt", "metadata", "pmej"})
END_DATES = ("dateFinEffectiveActivite", "dateFinActiviteAutorisee", "dateCaduciteAutorisation")


def _activity_paths(base: str) -> set[str]:
    paths = {f"{base}.caracteristiquesGeneriques.{g}" for g in GENERIC_READ}
    paths.add(f"{base}.nature.codeNature")
    for nature, keys in NATURE_KEYS.items():
        block = f"typeActivite{nature}"
        paths |= {f"{base}.nature.caracteristiquesSpecifiques.{block}.{k}" for k in keys}
        # The 1.0.0 schema wraps the same content in natureXXX.
        wrapped = f"{base}.nature{nature}"
        paths |= {f"{wrapped}.caracteristiquesGeneriques.{g}" for g in GENERIC_READ}
        paths |= {f"{wrapped}.caracteristiquesSpecifiques{nature}.{block}.{k}" for k in keys}
    return paths


READ_PATHS = frozenset(
    {"pmej[].numFiness", "pmej[].ege[].egeId", "pmej[].ege[].numFinessEge"}
    | _activity_paths("pmej[].activitesAutorisees[]")
    | _activity_paths("pmej[].ege[].activitesExercees[]")
)


def code(value: Any) -> str:
    """A nomenclature value, given either as a bare code or as {code, libelle}."""
    if isinstance(value, dict):
        return str(value.get("code") or "").strip()
    return "" if value is None else str(value).strip()


@dataclass
class Activity:
    """One activity of the file, flattened."""

    nature: str
    codes: tuple[str, str, str]
    generic: dict[str, Any]

    def text(self, key: str) -> str:
        return code(self.generic.get(key))


def _activity(item: dict[str, Any]) -> Activity | None:
    nature_block = item.get("nature")
    if isinstance(nature_block, dict):
        nature = code(nature_block.get("codeNature")).upper()
        specific = nature_block.get("caracteristiquesSpecifiques") or {}
        generic = item.get("caracteristiquesGeneriques") or {}
    else:
        wrapped = next((k for k in item if k.startswith("nature") and k[6:] in NATURE_KEYS), None)
        if wrapped is None:
            return None
        nature = wrapped[6:]
        generic = item[wrapped].get("caracteristiquesGeneriques") or {}
        specific = item[wrapped].get(f"caracteristiquesSpecifiques{nature}") or {}
    keys = NATURE_KEYS.get(nature)
    if keys is None:
        return None
    block = specific.get(f"typeActivite{nature}") or {}
    values = [code(block.get(k)) for k in keys]
    values += [""] * (3 - len(values))
    return Activity(nature, (values[0], values[1], values[2]), generic)


@dataclass
class Authorisations:
    """What the activities file says of each site (by FINESS of the EG)."""

    rows: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    sanitary: dict[str, set[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    without_site: int = 0

    def codes_of(self, finess: str) -> str:
        return ",".join(sorted(self.sanitary.get(finess, ())))


class _Reader:
    def __init__(self, name: str, today: date) -> None:
        self.name, self.today = name, today
        self.out = Authorisations()
        self.unread = UnreadFields(READ_PATHS)

    def _dates(self, activity: Activity, where: str) -> tuple[str, str]:
        start = iso_date(activity.text("dateDebutActiviteAutorisee"), name="dateDebut", where=where)
        ends = [iso_date(activity.text(k), name=k, where=where) for k in END_DATES]
        return start, min((e for e in ends if e), default="")

    def _active(self, activity: Activity, ends_on: str) -> bool:
        return activity.text("etatObjet") in ("", "A") and (
            not ends_on or ends_on > self.today.isoformat()
        )

    def add(self, finess: str, level: str, item: Any, where: str, parent: Any = None) -> None:
        activity = _activity(item) if isinstance(item, dict) else None
        if activity is None:
            self.out.warnings.append(f"{self.name}: {where}: no known nature; activity ignored")
            return
        try:
            starts_on, ends_on = self._dates(activity, where)
            active = self._active(activity, ends_on)
            arhgos = activity.text("numAutorisationArhgos")
            if parent is not None:  # an exercised activity lives only while its authorisation
                parent_start, parent_end = self._dates(parent, where)
                active = active and self._active(parent, parent_end)
                # What the exercise leaves out, its authorisation says.
                starts_on, ends_on = starts_on or parent_start, ends_on or parent_end
                arhgos = arhgos or parent.text("numAutorisationArhgos")
        except ValueError as exc:
            self.out.warnings.append(f"{self.name}: {exc}; activity ignored")
            return
        row = (
            level, activity.nature, *activity.codes, activity.text("activiteAeId"),
            arhgos, starts_on, ends_on, activity.text("etatObjet"),
        )  # fmt: skip
        self.out.rows.setdefault(finess, []).append(row)
        sanitary = activity.codes[0]
        if active and activity.nature in SANITARY_NATURES and sanitary:
            self.out.sanitary.setdefault(finess, set()).add(sanitary.zfill(2))

    def pmej(self, number: int, pm: dict[str, Any]) -> None:
        self.unread.visit(pm, "pmej[]")
        sites = {code(e.get("egeId")): code(e.get("numFinessEge")) for e in pm.get("ege") or []}
        authorised: dict[str, Activity] = {}
        for i, item in enumerate(pm.get("activitesAutorisees") or []):
            activity = _activity(item) if isinstance(item, dict) else None
            if activity is not None:
                authorised[activity.text("activiteAeId")] = activity
            site = sites.get(code(_generic(item).get("egeId")))
            if activity is not None and site:
                self.add(site, "authorised", item, f"pmej[{number}].activitesAutorisees[{i}]")
            else:
                self.out.without_site += 1
        for j, ege in enumerate(pm.get("ege") or []):
            finess = code(ege.get("numFinessEge"))
            for i, item in enumerate(ege.get("activitesExercees") or []):
                where = f"pmej[{number}].ege[{j}].activitesExercees[{i}]"
                link = code(_generic(item).get("identifiantAutorisation"))
                self.add(finess, "exercised", item, where, authorised.get(link))


def _generic(item: Any) -> dict[str, Any]:
    generic = item.get("caracteristiquesGeneriques") if isinstance(item, dict) else None
    return generic if isinstance(generic, dict) else {}


def _items(stream: IO[bytes]) -> Iterator[Any]:
    return ijson.items(stream, "pmej.item")


def read_activities(opener: Opener, *, name: str, today: date | None = None) -> Authorisations:
    """Every site's activities and active sanitary authorisations, from the activities file."""
    reader = _Reader(name, today or date.today())
    with opener() as stream:
        for number, pm in enumerate(_items(stream)):
            if isinstance(pm, dict):
                reader.pmej(number, pm)
    with opener() as stream:
        keys = top_level_keys(stream)
    if "pmej" not in keys:
        # A JSON Schema, a structures file or anything else given by mistake.
        raise ImportFileError(
            f"{name}: not a FINESS+ activities file (no 'pmej' at its top level)",
            fields={"activities": name},
        )
    for key in keys:
        if key not in TOP_LEVEL_READ:
            reader.unread.note(key)
    warning = reader.unread.warning(name)
    if warning:
        reader.out.warnings.append(warning)
    return reader.out
