"""Generate a synthetic RPPS+ Personne_activite extract of realistic size, and a next-day one.

    .venv/bin/python tests/benchmarks/directory_generate.py OUT_DIR [--professionals 1500000]

Writes ``day1/PS_LibreAcces_Personne_activite_*.txt``, ``day2/...`` and ``truth.json``: the
exact per-professional diff between the two days (added, updated, removed, unchanged).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

HEADER = (
    (
        Path(__file__).resolve().parents[2]
        / "fixtures/directory/rpps/PS_LibreAcces_Personne_activite_202605040000.txt"
    )
    .read_text("utf-8")
    .splitlines()[0]
)
LAST = [
    "MARTIN",
    "BERNARD",
    "DUBOIS",
    "THOMAS",
    "ROBERT",
    "RICHARD",
    "PETIT",
    "DURAND",
    "LEROY",
    "MOREAU",
    "SIMON",
    "LAURENT",
    "LEFÈVRE",
    "MICHEL",
    "GARCIA",
    "DAVID",
    "BERTRAND",
    "ROUX",
    "VINCENT",
    "FOURNIER",
    "MOREL",
    "GIRARD",
    "ANDRÉ",
    "LEFEBVRE",
    "MERCIER",
    "DUPONT",
]
FIRST = [
    "Camille",
    "Léa",
    "Hugo",
    "Chloé",
    "Lucas",
    "Inès",
    "Noé",
    "Zoé",
    "Éloïse",
    "Jules",
    "Maëlys",
    "Gabriel",
    "Anaïs",
    "Raphaël",
    "Manon",
    "Louis",
    "Jade",
    "Arthur",
]
PROFESSIONS = [
    ("10", "Médecin", "SM54", "Médecine générale"),
    ("60", "Infirmier", "", ""),
    ("70", "Masseur-Kinésithérapeute", "", ""),
    ("21", "Pharmacien", "", ""),
    ("40", "Chirurgien-Dentiste", "", ""),
    ("50", "Sage-Femme", "", ""),
    ("99", "Acteur participant au système de santé caractérisé par rôle", "", ""),
]


def luhn_key(body: str) -> str:
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char)
        if i % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str((10 - total % 10) % 10)


def rpps(n: int) -> str:
    body = f"1{n:09d}"
    return body + luhn_key(body)


def activity(rng: random.Random, number: str, k: int, phone_seed: int) -> list[str]:
    code, label, skill, skill_label = PROFESSIONS[rng.randrange(len(PROFESSIONS))]
    dep = f"{rng.randrange(1, 96):02d}"
    commune = f"{dep}{rng.randrange(1, 700):03d}"
    salaried = rng.random() < 0.4
    finess = f"{dep}0{rng.randrange(100000):05d}0" if salaried else ""
    return [
        code,
        label,
        "C",
        "Civil",
        "S" if skill else "",
        "Spécialité ordinale" if skill else "",
        skill,
        skill_label,
        "S" if salaried else "L",
        "Salarié" if salaried else "Libéral",
        "",
        "",
        finess,
        finess[:8] + "8" if finess else "",
        f"R{number}{k:03d}",
        f"CABINET {number} {k}",
        "",
        "",
        "",
        str(rng.randrange(1, 200)),
        "",
        "R",
        "Rue",
        "DES EXEMPLES",
        "",
        f"{commune} VILLE",
        commune,
        commune,
        "Ville",
        "",
        "",
        f"04{phone_seed:08d}",
        "",
        "",
        "",
        dep,
        "Département",
        "",
        "CNOM/CNOM/CNOM",
        "SA07",
        "Cabinet individuel",
        "",
        "",
        "FON-01",
        "Titulaire de cabinet",
        "GENR01",
        "Activité de soin et de pharmacie",
    ]


def professional(n: int, *, variant: int = 0) -> list[str]:
    """The rows of professional ``n``; ``variant`` 1 changes an activity, 2 the name."""
    rng = random.Random(n)
    number = rpps(n)
    last = LAST[n % len(LAST)] + f"-{n % 997}" + ("-BIS" if variant == 2 else "")
    person = ["8", number, "8" + number, "DR", "Docteur", "M", "Monsieur", last, FIRST[n % 18]]
    rows = []
    for k in range(1 if rng.random() < 0.67 else 2):
        act = activity(rng, number, k, n * 3 + k + (7 if variant == 1 else 0))
        assert len(person) + len(act) == 56
        rows.append("|".join(person + act) + "|\n")
    return rows


def fate(n: int) -> str:
    r = (n * 2654435761) % 1000
    return "removed" if r < 10 else "updated" if r < 40 else "unchanged"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--professionals", type=int, default=1_500_000)
    args = parser.parse_args()
    total = args.professionals
    added = total // 100
    day1 = args.out / "day1" / "PS_LibreAcces_Personne_activite_202605040000.txt"
    day2 = args.out / "day2" / "PS_LibreAcces_Personne_activite_202605050000.txt"
    for path in (day1, day2):
        path.parent.mkdir(parents=True, exist_ok=True)
    truth = {"added": added, "updated": 0, "removed": 0, "unchanged": 0}
    rows = {"day1": 0, "day2": 0}
    with day1.open("w", encoding="utf-8") as one, day2.open("w", encoding="utf-8") as two:
        one.write(HEADER + "\n")
        two.write(HEADER + "\n")
        for n in range(total + added):
            if n < total:
                first = professional(n)
                one.writelines(first)
                rows["day1"] += len(first)
                what = fate(n)
                truth[what] += 1
                if what == "removed":
                    continue
                second = first if what == "unchanged" else professional(n, variant=1 + n % 2)
            else:
                second = professional(n)
            two.writelines(second)
            rows["day2"] += len(second)
    truth_file = args.out / "truth.json"
    truth_file.write_text(json.dumps({**truth, "rows": rows, "professionals": total}), "utf-8")
    print(json.dumps({**truth, "rows": rows}))


if __name__ == "__main__":
    main()
