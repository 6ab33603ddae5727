"""Generate a national-size synthetic ROR ($export NDJSON) and its FINESS+ extract.

    .venv/bin/python -m tests.benchmarks.ror_generate --eg 100000 --out /tmp/ror_national

Writes ror/{Organization,Location,HealthcareService}.ndjson (≈ 100k EG, 50k EJ,
200k UE, 250k offers, 100k places) and finess/finess-{structures,activites}-...json.
Every EG gets a FINESS category drawn from the in-scope lists and, for sanitary ones,
authorisations; about 70 % of the offers are complete so the statuses are mixed.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import IO, Any

from tests.ror_sync import fhir_builders as b
from tests.ror_sync.rules_fixture import luhn_key

SANITARY = ["101", "106", "109", "122", "128", "355", "362", "365", "366", "292", "156"]
OTHERS = [
    "500",
    "500",
    "500",
    "502",
    "202",
    "209",
    "354",
    "460",
    "182",
    "183",
    "186",
    "188",
    "189",
    "214",
    "177",
    "443",
    "604",
    "606",
    "603",
]
AUTHORISATIONS = ["01", "02", "03", "04", "07", "11", "50", "51", "52", "80"]
DEPARTMENTS = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B"]
REGION = {d: "84" for d in DEPARTMENTS}  # the tag region is not what completeness groups on


# Metropolitan France as a 12 x 8 grid of department-sized cells (about 80 km x 78 km):
# places spread like a national ROR, so that a 30 km search sees a realistic share of them.
GRID_COLUMNS, LAT0, LON0, CELL_LAT, CELL_LON = 12, 42.5, -4.5, 0.7, 1.05


def department_cell(index: int) -> tuple[float, float]:
    """South-west corner (latitude, longitude) of the cell of the index-th department."""
    row, column = divmod(index % 96, GRID_COLUMNS)
    return LAT0 + row * CELL_LAT, LON0 + column * CELL_LON


def place_position(rng: random.Random, index: int) -> tuple[float, float]:
    lat, lon = department_cell(index)
    return lat + rng.random() * CELL_LAT, lon + rng.random() * CELL_LON


def finess_of(department: str, seq: int) -> str:
    body = f"{department}{seq:06d}"[:8].replace("A", "0").replace("B", "0")
    if department in ("2A", "2B"):
        body = department + body[2:]
        return body + "0"
    return body + luhn_key(body)


def _dump(handle: IO[str], resource: dict[str, Any]) -> None:
    handle.write(json.dumps(resource, separators=(",", ":"), ensure_ascii=False))
    handle.write("\n")


def _offer(rng: random.Random, rid: str, ue: str, champ: str, loc: str) -> dict[str, Any]:
    complete = rng.random() < 0.7
    return b.offer(
        rid,
        ue,
        champ=champ,
        activities=(f"{rng.randint(1, 400):03d}",),
        care_mode=rng.choice(["28", "29", "32", "46"]) if complete or rng.random() < 0.5 else None,
        ages=(0, 120, "a") if complete or rng.random() < 0.5 else None,
        location_id=loc,
        org_category="157" if rng.random() < 0.8 else None,
    )


def generate(out: Path, eg_count: int, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    counts = {"organizations": 0, "offers": 0, "locations": 0}
    structures: list[dict[str, Any]] = []
    activities: list[dict[str, Any]] = []
    ror = out / "ror"
    ror.mkdir(exist_ok=True)
    with (
        (ror / "Organization.ndjson").open("w", encoding="utf-8") as orgs,
        (ror / "HealthcareService.ndjson").open("w", encoding="utf-8") as offers,
        (ror / "Location.ndjson").open("w", encoding="utf-8") as places,
    ):
        for i in range(eg_count):
            dept = DEPARTMENTS[i % len(DEPARTMENTS)]
            sanitary = rng.random() < 0.25
            category = rng.choice(SANITARY if sanitary else OTHERS)
            finess = finess_of(dept, 100000 + i)
            auths = sorted(set(rng.sample(AUTHORISATIONS, rng.randint(1, 3)))) if sanitary else []
            ej_id = f"ej-{i // 2}"
            if i % 2 == 0:
                _dump(orgs, b.ej(ej_id, finess_of(dept, 900000 - i // 2)))
                counts["organizations"] += 1
            eg_id, loc = f"eg-{i}", f"loc-{i}"
            _dump(orgs, b.eg(eg_id, finess, category, ej_id))
            lat, lon = place_position(rng, i % len(DEPARTMENTS))
            cog = f"{dept}001" if dept not in ("2A", "2B") else f"{dept}004"
            _dump(
                places,
                b.location(loc, eg_id, cog=cog, lat=lat, lon=lon, capacity=rng.randint(5, 80)),
            )
            counts["organizations"] += 1
            counts["locations"] += 1
            champs = [
                {"50": "02", "51": "02", "52": "02", "04": "03"}.get(a, "01") for a in auths
            ] or ["04"]
            for u in range(2):
                ue = f"ue-{i}-{u}"
                _dump(orgs, b.oi(ue, eg_id))
                counts["organizations"] += 1
                for o in range(2 if u == 0 and i % 2 == 0 else 1):
                    _dump(
                        offers,
                        _offer(rng, f"hs-{i}-{u}-{o}", ue, champs[(u + o) % len(champs)], loc),
                    )
                    counts["offers"] += 1
            structures.append(_structure(finess, finess_of(dept, 900000 - i // 2), category, dept))
            activities += [_activity(finess, a) for a in auths]
    _write_finess(out / "finess", structures, activities)
    return counts


def _structure(finess: str, ej: str, category: str, dept: str) -> dict[str, Any]:
    """One legal entity with its site, in the shape of ANS's published structures file."""
    cog = f"{dept}001" if dept not in ("2A", "2B") else f"{dept}004"
    return {
        "informationsGeneralesPMEJ": {
            "numFinessPm": ej,
            "statutJuridique": "13",
            "denominationPm": f"EJ {ej}",
        },
        "ege": [
            {
                "informationsGeneralesEGE": {
                    "egeId": finess,
                    "numFinessEge": finess,
                    "nomEgeCourt": f"EG {finess}",
                    "dateOuverture": "2000-01-01",
                },
                "categorieentiteGeographiqueExercice": category,
                "adresse": [
                    {
                        "usageAdresse": "03",
                        "numeroVoie": "1",
                        "libelleVoie": "RUE",
                        "cogCommune": cog,
                        "codePostal": f"{dept}000",
                    }
                ],
                "contact": [],
                "etatObjet": "A",
                "dateDerniereMaj": "2026-05-01 00:00:00",
            }
        ],
    }


def _activity(finess: str, code: str) -> tuple[str, dict[str, Any]]:
    """(site, one AMF activity exercised there), as the published activities file has it."""
    return finess, {
        "caracteristiquesGeneriques": {
            "activiteAeId": f"{finess}-{code}",
            "etatObjet": "A",
            "dateDebutActiviteAutorisee": "2010-01-01",
            "egeId": finess,
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
    }


def _write_finess(folder: Path, structures: list[Any], activities: list[Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    head = {"schemaVersion": "v1.0.0", "generatedAt": "2026-05-04T02:15:00Z"}
    (folder / "finess-structures-journalier-20260504.json").write_text(
        json.dumps({**head, "pmej": structures}), encoding="utf-8"
    )
    by_site: dict[str, list[Any]] = {}
    for site, activity in activities:
        by_site.setdefault(site, []).append(activity)
    pmej = [
        {"numFiness": site, "ege": [{"egeId": site, "numFinessEge": site, "activitesExercees": a}]}
        for site, a in by_site.items()
    ]
    (folder / "finess-activites-journalier-20260504.json").write_text(
        json.dumps({**head, "pmej": pmej}), encoding="utf-8"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--eg", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/ror_national"))
    args = parser.parse_args()
    print(json.dumps(generate(args.out, args.eg)))


if __name__ == "__main__":
    main()
