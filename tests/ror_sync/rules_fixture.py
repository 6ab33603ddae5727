"""The completeness rule fixture: one EG per rule, with the hand-computed expectation.

``python -m tests.ror_sync.rules_fixture`` rewrites fixtures/ror/rules/ror_rules.json; a test
checks the committed file still equals ``build()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from tests.ror_sync import fhir_builders as b

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "fixtures" / "ror" / "rules"
FIXTURE = RULES / "ror_rules.json"
FINESS_STRUCTURES = RULES / "finess" / "finess-structures-journalier-20260504.json"
FINESS_ACTIVITIES = RULES / "finess" / "finess-activites-journalier-20260504.json"
COMMUNES = {
    "69": ("69123", 45.7578, 4.8320),
    "38": ("38185", 45.1885, 5.7245),
    "75": ("75056", 48.8566, 2.3522),
}


def luhn_key(body: str) -> str:
    """The Luhn check digit that makes ``body + key`` valid."""
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return str((10 - total % 10) % 10)


def finess(department: str, seq: int) -> str:
    body = f"{department}{990000 + seq:06d}"
    return body + luhn_key(body)


@dataclass(frozen=True)
class Eg:
    """One FINESS EG of the fixture: its facts and the ROR it has."""

    key: str
    category: str
    department: str
    region: str
    authorisations: tuple[str, ...] = ()
    opened_on: date | None = date(2000, 1, 1)
    closed_on: date | None = None

    @property
    def finess(self) -> str:
        return finess(self.department, ord(self.key[0]) - 64 + 30 * (len(self.key) - 1))


EGS = [
    Eg("A", "355", "69", "84", ("01", "50", "04")),
    Eg("B", "365", "69", "84"),
    Eg("C", "292", "69", "84"),
    Eg("D", "355", "38", "84", ("05", "07")),
    Eg("E", "355", "69", "84", ("01",), closed_on=date(2024, 6, 30)),
    Eg("EE", "355", "69", "84", ("01",), opened_on=None),
    Eg("F", "124", "69", "84", ("01",)),
    Eg("G", "101", "69", "84", ("80",)),
    Eg("H", "101", "38", "84", ("01",)),
    Eg("I", "106", "38", "84", ("02",)),
    Eg("J", "106", "69", "84", ("03",)),
    Eg("K", "109", "75", "11", ("51",)),
    Eg("M", "500", "69", "84"),
    Eg("N", "209", "69", "84"),
    Eg("O", "354", "38", "84"),
    Eg("P", "604", "69", "84"),
    Eg("Q", "214", "75", "11"),
    Eg("R", "603", "69", "84"),
    Eg("S", "500", "38", "84"),
    Eg("T", "501", "69", "84"),
    Eg("U", "502", "69", "84"),
    Eg("V", "202", "69", "84"),
]
BY_KEY = {e.key: e for e in EGS}

# Hand-computed: EG key -> {champ: status}. B, E, EE, F are outside the perimeter.
EXPECTED: dict[str, dict[str, str]] = {
    "A": {"MCO": "finalised", "SMR": "in_progress", "PSY": "to_do"},
    "C": {"PSY": "finalised"},
    "D": {"MCO": "in_progress"},
    "G": {"MCO": "finalised"},
    "H": {"MCO": "to_do"},
    "I": {"MCO": "in_progress"},
    "J": {"MCO": "in_progress"},
    "K": {"SMR": "in_progress"},
    "M": {"PA": "in_progress"},
    "N": {"ESMS Domicile": "in_progress"},
    "O": {"ESMS Domicile": "finalised"},
    "P": {"Coordination": "finalised"},
    "Q": {"Social": "to_do"},
    "R": {"Ville": "to_do"},
    "S": {"PA": "in_progress"},
    "T": {"PA": "finalised"},
    "U": {"PA": "finalised"},
    "V": {"PA": "to_do"},
}


def _structure(key: str, resources: list[dict[str, Any]]) -> tuple[str, str]:
    """EJ + EG + a complete place for EG ``key``; returns (EG id, place id)."""
    e = BY_KEY[key]
    resources.append(b.ej(f"ej-{key}", finess(e.department, 500 + len(resources)), e.region))
    resources.append(b.eg(f"eg-{key}", e.finess, e.category, f"ej-{key}", e.region))
    resources.append(
        b.location(
            f"loc-{key}", f"eg-{key}", region=e.region, cog="75056" if e.region == "11" else "69123"
        )
    )
    return f"eg-{key}", f"loc-{key}"


def _ue(key: str, n: int, parent: str, resources: list[dict[str, Any]], **kw: Any) -> str:
    rid = f"ue-{key}{n}"
    resources.append(b.oi(rid, parent, "4", BY_KEY[key].region, **kw))
    return rid


def _sanitary(res: list[dict[str, Any]]) -> None:
    eg, loc = _structure("A", res)
    pole = "pole-A"
    res.append(b.oi(pole, eg, "1"))
    res.append(b.offer("hs-A1", _ue("A", 1, pole, res), champ="01", location_id=loc))
    res.append(b.offer("hs-A2", _ue("A", 2, pole, res), champ="01", location_id=loc))
    res.append(b.offer("hs-A3", _ue("A", 3, eg, res), champ="02", location_id=loc))
    res.append(
        b.offer("hs-A4", _ue("A", 4, eg, res), champ="02", ages=(18, None, "a"), location_id=loc)
    )
    res.append(b.offer("hs-A5", _ue("A", 5, eg, res), champ="04", location_id=loc))
    for key in ("B", "E", "EE", "F"):
        eg, loc = _structure(key, res)
        res.append(b.offer(f"hs-{key}1", _ue(key, 1, eg, res), location_id=loc))
    eg, loc = _structure("C", res)
    res.append(b.offer("hs-C1", _ue("C", 1, eg, res), champ="03", location_id=loc))
    eg, loc = _structure("D", res)
    res.append(b.offer("hs-D1", _ue("D", 1, eg, res), care_mode=None, location_id=loc))
    eg, loc = _structure("G", res)
    res.append(
        b.offer(
            "hs-G1",
            _ue("G", 1, eg, res),
            activities=(),
            care_mode=None,
            ages=None,
            with_contact=False,
            closed_on="2025-01-31",
            closing_type="DEF",
        )
    )
    res.append(
        b.offer(
            "hs-G2",
            _ue("G", 2, eg, res),
            location_id=loc,
            closed_on="2025-01-31",
            closing_type="PRO",
        )
    )
    eg, loc = _structure("H", res)
    ue = _ue("H", 1, eg, res, closed_on="2024-12-31", closing_type="DEF")
    res.append(b.offer("hs-H1", ue, location_id=loc))
    eg, loc = _structure("I", res)
    res.append(
        b.offer(
            "hs-I1", _ue("I", 1, eg, res), activities=(), extra_specialty="2.1.1.1", location_id=loc
        )
    )
    eg, _ = _structure("J", res)
    res.append(b.location("loc-J-nostreet", eg, street=None))
    res.append(b.location("loc-J-lieudit", eg, street=None, lieu_dit="Les Glycines"))
    res.append(b.offer("hs-J1", _ue("J", 1, eg, res), location_id="loc-J-nostreet"))
    res.append(b.offer("hs-J2", _ue("J", 2, eg, res), location_id="loc-J-lieudit"))
    eg, loc = _structure("K", res)
    res.append(
        b.offer(
            "hs-K1",
            _ue("K", 1, eg, res),
            champ="02",
            location_id=loc,
            region="11",
            contact=b.contact_ext(telecom_conf=None),
        )
    )
    ue = _ue("K", 2, eg, res, contacts=[b.org_contact()])
    res.append(b.offer("hs-K2", ue, champ="02", location_id=loc, region="11", with_contact=False))


def _non_sanitary(res: list[dict[str, Any]]) -> None:
    eg, loc = _structure("M", res)
    res.append(b.offer("hs-M1", _ue("M", 1, eg, res), champ="04", location_id=loc))
    res.append(b.offer("hs-M2", _ue("M", 2, eg, res), champ=None, location_id=loc))
    eg, loc = _structure("N", res)
    res.append(b.offer("hs-N1", _ue("N", 1, eg, res), champ="04", location_id=loc))
    eg, loc = _structure("O", res)
    res.append(
        b.offer("hs-O1", _ue("O", 1, eg, res), champ="04", location_id=loc, org_category="157")
    )
    eg, loc = _structure("P", res)
    res.append(b.offer("hs-P1", _ue("P", 1, eg, res), champ="05", location_id=loc))
    eg, _ = _structure("R", res)
    res.append(
        b.offer(
            "hs-R1",
            _ue("R", 1, eg, res),
            champ=None,
            activities=(),
            care_mode=None,
            ages=None,
            with_contact=False,
        )
    )
    eg, loc = _structure("S", res)
    res.append(b.offer("hs-S1", _ue("S", 1, eg, res), champ="04", location_id=loc))
    res.append(
        b.offer(
            "hs-S2",
            _ue("S", 2, eg, res),
            champ=None,
            activities=(),
            care_mode=None,
            ages=None,
            with_contact=False,
        )
    )
    eg, loc = _structure("T", res)
    res.append(
        b.offer("hs-T1", _ue("T", 1, eg, res), champ="04", ages=(0, 216, "mo"), location_id=loc)
    )
    eg, loc = _structure("U", res)
    res.append(b.offer("hs-U1", _ue("U", 1, eg, res), champ="04", location_id=loc))
    res.append(b.offer("hs-U2", _ue("U", 2, eg, res), champ="04", active=False, care_mode=None))
    eg, loc = _structure("V", res)
    res.append(b.offer("hs-V1", _ue("V", 1, eg, res), champ="04", location_id=loc, region=None))


def build() -> dict[str, Any]:
    """The rule fixture bundle (Q has no ROR at all: a FINESS EG missing from the ROR)."""
    resources: list[dict[str, Any]] = []
    _sanitary(resources)
    _non_sanitary(resources)
    return b.bundle(resources)


def _ege(e: Eg) -> dict[str, Any]:
    """One site in the shape of ANS's published structures file."""
    cog, lat, lon = COMMUNES[e.department]
    info: dict[str, Any] = {"egeId": e.finess[2:], "nomEgeCourt": f"EG {e.key}"}
    if e.opened_on:
        info["dateOuverture"] = e.opened_on.isoformat()
    if e.closed_on:
        info["dateFermeture"] = e.closed_on.isoformat()
    info["numFinessEge"] = e.finess
    return {
        "informationsGeneralesEGE": info,
        "categorieentiteGeographiqueExercice": e.category,
        "adresse": [
            {
                "usageAdresse": "03",
                "numeroVoie": "1",
                "typeVoie": "R",
                "libelleVoie": f"DES REGLES {e.key}",
                "cogCommune": cog,
                "codePostal": f"{e.department}000",
                "coordonneesGeographique": {
                    "directionLatitude": str(lat),
                    "directionLongitude": str(lon),
                },
            }
        ],
        "contact": [],
        "engagement": [],
        "evenement": [],
        "etatObjet": "A",
        "dateDerniereMaj": "2026-05-01 00:00:00",
    }


def _activity(e: Eg, code: str, number: int, exercised: bool) -> dict[str, Any]:
    """One AMF activity (the authorisation, or its exercise at the site)."""
    activity_id = f"{e.finess}-{number}"
    return {
        "caracteristiquesGeneriques": {
            "activiteAeId": activity_id,
            "etatObjet": "A",
            "identifiantAutorisation": activity_id if exercised else None,
            "dateDebutActiviteAutorisee": "2010-01-01",
            "dateFinActiviteAutorisee": None,
            "egeId": e.finess[2:] if exercised else None,
            "typeActiviteSMSSE": "178",
        },
        "nature": {
            "codeNature": "AMF",
            "caracteristiquesSpecifiques": {
                "typeActiviteAMF": {
                    "activiteAMF": code,
                    "modaliteActivite": "00",
                    "formeActivite": "01",
                }
            },
        },
        "evenement": [],
        "engagement": [],
        "capacite": [],
        "zoneIntervention": None,
    }


def finess_files() -> tuple[dict[str, Any], dict[str, Any]]:
    """The FINESS+ structures and activities files of the rule fixture's EGs, as published."""
    structures = {
        "schemaVersion": "v1.0.0",
        "generatedAt": "2026-05-04T02:15:00Z",
        "pmej": [
            {
                "informationsGeneralesPMEJ": {
                    "pmSmsseId": str(i + 1),
                    "numFinessPm": finess(e.department, 200 + i),
                    "statutJuridique": "13",
                    "denominationPm": f"EJ {e.key}",
                },
                "adresse": [],
                "evenement": [],
                "ege": [_ege(e)],
                "etatObjet": "A",
                "dateDerniereMaj": "2026-05-01 00:00:00",
            }
            for i, e in enumerate(EGS)
        ],
    }
    activities = {
        "schemaVersion": "v1.0.0",
        "generatedAt": "2026-05-04T02:15:00Z",
        "pmej": [
            {
                "numFiness": finess(e.department, 200 + i),
                "pmSmsseId": str(i + 1),
                "activitesAutorisees": [
                    _activity(e, code, n, exercised=False)
                    for n, code in enumerate(e.authorisations)
                ],
                "ege": [
                    {
                        "egeId": e.finess[2:],
                        "numFinessEge": e.finess,
                        "activitesExercees": [
                            _activity(e, code, n, exercised=True)
                            for n, code in enumerate(e.authorisations)
                        ],
                    }
                ],
            }
            for i, e in enumerate(EGS)
            if e.authorisations
        ],
    }
    return structures, activities


def _write(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    _write(FIXTURE, build())
    structures, activities = finess_files()
    _write(FINESS_STRUCTURES, structures)
    _write(FINESS_ACTIVITIES, activities)
