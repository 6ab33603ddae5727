"""FINESS+ import at national size, in the shape ANS publishes (not collected by pytest).

Writes a structures file of ``--sites`` sites (one legal entity per two sites, contacts, both
coordinate pairs in the daily feed's swapped layout, events) and its activities file (each
site exercising two AMF activities authorised to its legal entity), then imports them twice
into a fresh database: the first load, then the same files again (everything unchanged).

    .venv/bin/python -m tests.benchmarks.finess_bench --sites 100000
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

from referentials.core.db import make_engine, make_session_factory
from referentials.core.settings import DirectorySettings
from referentials.directory import imports
from referentials.migrations import upgrade
from tests.ror_sync.rules_fixture import luhn_key

DEPARTMENTS = ("01", "13", "33", "59", "69", "75")


def _finess(dept: str, n: int) -> str:
    body = f"{dept}{n:06d}"
    return body + luhn_key(body)


def _site(n: int) -> dict[str, Any]:
    dept = DEPARTMENTS[n % len(DEPARTMENTS)]
    lat, lon = 45.0 + (n % 300) / 100, 2.0 + (n % 400) / 100
    return {
        "informationsGeneralesEGE": {
            "egeId": str(n),
            "dateOuverture": "2000-01-01",
            "datePremiereAutorisation": "2000-01-01",
            "nomEgeCourt": f"SITE {n}",
            "nomEgeLong": f"SITE FICTIF NUMERO {n}",
            "numFinessEge": _finess(dept, n),
        },
        "categorieentiteGeographiqueExercice": ("355", "500", "122")[n % 3],
        "modefixationtarifaire": "07",
        "typeBudget": ["01"],
        "adresse": [
            {
                "usageAdresse": "03",
                "numeroVoie": str(n % 200),
                "typeVoie": "R",
                "libelleVoie": "DES ESSAIS",
                "cogCommune": f"{dept}{n % 900 + 1:03d}",
                "ligneAcheminement": "VILLE FICTIVE",
                "codePostal": f"{dept}000",
                "coordonneesGeographique": {
                    "coordonneeX": f"{lon:.6f}",
                    "coordonneeY": f"{lat:.6f}",
                    "directionLatitude": "6570414.61",
                    "directionLongitude": "873766.07",
                    "cleInInteropBAN": f"{dept}001_0001_00001",
                    "scoreBAN": "0.95",
                },
            }
        ],
        "contact": [{"typeContact": {"roleContact": "01"}, "telecom": {"telephone": f"04{n:08d}"}}],
        "engagement": [],
        "evenement": [
            {
                "evenementId": str(n),
                "dateEnregistrement": "2025-10-21 18:36:29",
                "dateEvenement": "2000-01-01",
                "etatObjet1": "003",
                "identifiantObjet1": str(n),
                "systemeMaitre": "01",
                "typeObjet1": "EG",
                "codeEvenement": "003",
            }
        ],
        "roleEge": [],
        "etatObjet": "A",
        "dateDerniereMaj": "2025-01-01 00:00:00",
    }


def _activity(ae: str, code: str, site: str | None) -> dict[str, Any]:
    return {
        "caracteristiquesGeneriques": {
            "activiteAeId": ae,
            "etatObjet": "A",
            "identifiantAutorisation": ae if site else None,
            "numAutorisationArhgos": f"84-82-{ae}",
            "dateDebutActiviteAutorisee": "2010-01-01",
            "egeId": site,
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


def write(folder: Path, sites: int) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    pmej, activities = [], []
    for pm in range(0, sites, 2):
        ids = [n for n in (pm, pm + 1) if n < sites]
        eges = [_site(n) for n in ids]
        pmej.append(
            {
                "informationsGeneralesPMEJ": {
                    "pmSmsseId": str(pm),
                    "numFinessPm": _finess("99", pm),
                    "denominationPm": f"EJ {pm}",
                    "statutJuridique": "13",
                },
                "adresse": [],
                "evenement": [],
                "ege": eges,
                "etatObjet": "A",
                "dateDerniereMaj": "2025-01-01 00:00:00",
            }
        )
        authorised = [_activity(f"{n}-{c}", c, None) for n in ids for c in ("01", "50")]
        exercised = [
            {
                "egeId": str(n),
                "numFinessEge": e["informationsGeneralesEGE"]["numFinessEge"],
                "activitesExercees": [_activity(f"{n}-{c}", c, str(n)) for c in ("01", "50")],
            }
            for n, e in zip(ids, eges, strict=True)
        ]
        activities.append(
            {
                "numFiness": _finess("99", pm),
                "pmSmsseId": str(pm),
                "activitesAutorisees": authorised,
                "ege": exercised,
            }
        )
    head = {"schemaVersion": "v1.0.0", "generatedAt": "2026-05-04T02:15:00Z"}
    structures = folder / "finess-structures-journalier-20260504.json"
    structures.write_text(json.dumps({**head, "pmej": pmej}), encoding="utf-8")
    activity_file = folder / "finess-activites-journalier-20260504.json"
    activity_file.write_text(json.dumps({**head, "pmej": activities}), encoding="utf-8")
    return structures, activity_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/finess_bench"))
    parser.add_argument("--database", default="sqlite:////tmp/finess_bench.db")
    args = parser.parse_args()
    structures, activity_file = write(args.out, args.sites)
    sizes = [p.stat().st_size / 1e6 for p in (structures, activity_file)]
    print(f"files: structures {sizes[0]:.0f} MB, activities {sizes[1]:.0f} MB", flush=True)
    engine = make_engine(args.database)
    upgrade(engine)
    factory = make_session_factory(engine)
    for label in ("first load", "same files again"):
        started = time.perf_counter()
        summary = imports.run(
            engine,
            factory,
            source="finess",
            location=str(structures),
            trigger="bench",
            settings=DirectorySettings(),
            activities=activity_file,
        )
        took = time.perf_counter() - started
        counts = {k: summary[k] for k in ("structures", "added", "unchanged", "warnings")}
        print(f"{label}: {took:.1f} s {json.dumps(counts)}", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:.0f} MB")


if __name__ == "__main__":
    main()
