"""Generate a French patient-identity CSV with known duplicates (benchmark data, not a test).

    .venv/bin/python tests/benchmarks/generate_identities.py --persons 11000 --out /tmp/fr14k.csv

Columns follow the `socle dedupe` input contract plus `truth` (the person id). About 30 % of
persons get one or two more records carrying the errors seen in French hospital files (typing and
phonetic spellings, married name as birth name, given-name order and compound forms, particles,
name inversion, date swaps/digits/years/01-01, birth place missing or neighbouring, wrong sex,
dropped INS), and the traps that must not merge are planted: twins, a parent and a child with the
same names, and frequent homonyms.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import random
from dataclasses import dataclass, replace
from pathlib import Path

from matching_errors import apply_errors
from matching_names import first_names, surnames

from matching.csv_input import OPTIONAL_COLUMNS, REQUIRED_COLUMNS

# The `socle dedupe` input columns, plus the truth (the person id) the metrics need.
FIELDS = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "truth"]
DEPARTMENTS = [f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B"]
ABROAD = ["99134", "99350", "99352", "99351", "99139", "99127", "99109", "99243"]
STREETS = [
    "RUE DES LILAS",
    "AVENUE JEAN JAURES",
    "RUE VICTOR HUGO",
    "PLACE DE LA MAIRIE",
    "CHEMIN DES VIGNES",
    "RUE DU MOULIN",
    "BOULEVARD GAMBETTA",
    "RUE PASTEUR",
    "ALLEE DES CHENES",
    "RUE DE LA REPUBLIQUE",
    "IMPASSE DES ROSES",
    "ROUTE DE LYON",
]
CITIES = [
    "CLERMONT-FERRAND",
    "RIOM",
    "ISSOIRE",
    "THIERS",
    "AMBERT",
    "VICHY",
    "MONTLUCON",
    "MOULINS",
    "AURILLAC",
    "LE PUY-EN-VELAY",
    "YSSINGEAUX",
    "SAINT-FLOUR",
    "COURNON",
]


@dataclass(frozen=True, slots=True)
class Person:
    """One generated identity record (a row of the CSV)."""

    truth: str
    birth_name: str
    first_names: tuple[str, ...]
    used_name: str
    used_first_name: str
    sex: str
    birth_date: str
    birth_place_code: str
    ins: str
    address: str
    postcode: str
    city: str
    phone: str


class Sampler:
    """Weighted draws from the name lists, with cumulative weights computed once."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        pairs = surnames()
        self.names = [n for n, _ in pairs]
        self.cum = list(itertools.accumulate(w for _, w in pairs))
        self.given = {s: first_names(s) for s in ("M", "F")}
        self.given_cum = {
            s: list(itertools.accumulate(w for _, w in g)) for s, g in self.given.items()
        }

    def surname(self, common: bool = False) -> str:
        if common:
            return self.rng.choices(self.names[:25], cum_weights=self.cum[:25])[0]
        return self.rng.choices(self.names, cum_weights=self.cum)[0]

    def given_names(self, sex: str, common: bool = False) -> tuple[str, ...]:
        limit = 10 if common else len(self.given[sex])
        pool = [n for n, _ in self.given[sex][:limit]]
        count = self.rng.choices([1, 2, 3], [0.3, 0.45, 0.25])[0]
        names = self.rng.choices(pool, cum_weights=self.given_cum[sex][:limit], k=count)
        return tuple(dict.fromkeys(names))


def nir(sex: str, date: str, place: str, order: int) -> str:
    """A matricule with a valid key (abroad: 99 + country code)."""
    dept, commune = (place[:2], place[2:]) if place != "99999" else ("99", "999")
    body = f"{1 if sex == 'M' else 2}{date[2:4]}{date[5:7]}{dept}{commune}{order:03d}"
    key = 97 - int(body.replace("2A", "19").replace("2B", "18")) % 97
    return f"{body}{key:02d}"


def _date(rng: random.Random, year: int | None = None) -> str:
    y = year or rng.choices(range(1925, 2024), [1.0 + (y > 1945) for y in range(1925, 2024)])[0]
    return f"{y:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _place(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.06:
        return rng.choice(ABROAD)
    if roll < 0.07:
        return "99999"
    return f"{rng.choice(DEPARTMENTS)}{rng.randint(1, 400):03d}"


def new_person(s: Sampler, truth: str, common: bool = False) -> Person:
    rng = s.rng
    sex = rng.choice("MF")
    date = _date(rng)
    place = _place(rng)
    given = s.given_names(sex, common)
    married = sex == "F" and date < "1998" and rng.random() < 0.55
    used_first = rng.choice(given[1:]) if len(given) > 1 and rng.random() < 0.04 else ""
    dept = rng.choice(DEPARTMENTS[:95]) if rng.random() < 0.3 else "63"
    postcode = f"{dept}{rng.randint(0, 99):03d}"
    return Person(
        truth=truth,
        birth_name=s.surname(common),
        first_names=given,
        used_name=s.surname() if married else "",
        used_first_name=used_first,
        sex=sex,
        birth_date=date,
        birth_place_code=place,
        ins=nir(sex, date, place, rng.randint(1, 999)),
        address=f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
        postcode=postcode,
        city=rng.choice(CITIES),
        phone=f"0{rng.choice('1234567')}{rng.randint(0, 10**8 - 1):08d}",
    )


def trap_relatives(s: Sampler, person: Person, truth: str) -> Person:
    """A twin (same name, date, place, other first name) or a same-named parent/child."""
    rng = s.rng
    if rng.random() < 0.5:
        sex = rng.choice("MF")
        others = [g for g in s.given_names(sex) if g not in person.first_names] or ["ALIX"]
        second = person.first_names[1:2] if rng.random() < 0.3 else ()
        given = (others[0], *second)
        ins = nir(sex, person.birth_date, person.birth_place_code, rng.randint(1, 999))
        return replace(
            person,
            truth=truth,
            first_names=given,
            sex=sex,
            ins=ins,
            used_name="",
            used_first_name="",
        )
    born = int(person.birth_date[:4])
    gap = rng.randint(20, 38)
    date = _date(rng, born - gap if born + gap > 2023 else born + gap)
    first = (person.first_names[0], *s.given_names(person.sex)[:1])
    ins = nir(person.sex, date, person.birth_place_code, rng.randint(1, 999))
    return replace(
        person,
        truth=truth,
        first_names=tuple(dict.fromkeys(first)),
        birth_date=date,
        ins=ins,
        used_name="",
    )


def record_view(rng: random.Random, person: Person) -> Person:
    """What one information system holds: optional INS, contact data sometimes missing."""
    return replace(
        person,
        ins=person.ins if rng.random() < 0.6 else "",
        address=person.address if rng.random() < 0.8 else "",
        phone=person.phone if rng.random() < 0.7 else "",
        used_first_name=person.used_first_name if rng.random() < 0.7 else "",
    )


def generate(persons: int, seed: int) -> list[Person]:
    """All records: persons, their duplicates (with errors) and the planted traps."""
    s = Sampler(random.Random(seed))
    rng = s.rng
    rows: list[Person] = []
    for index in range(persons):
        truth = f"P{index:07d}"
        person = new_person(s, truth, common=rng.random() < 0.03)
        rows.append(record_view(rng, person))
        if rng.random() < 0.035:
            rows.append(record_view(rng, trap_relatives(s, person, truth + "T")))
        if rng.random() < 0.30:
            for _ in range(rng.choices([1, 2], [0.85, 0.15])[0]):
                rows.append(apply_errors(rng, record_view(rng, person), s.surname))
    rng.shuffle(rows)
    return rows


def write_csv(rows: list[Person], out: Path) -> None:
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        for i, p in enumerate(rows):
            writer.writerow(
                [
                    f"R{i:08d}",
                    p.birth_name,
                    " ".join(p.first_names),
                    p.used_name,
                    p.used_first_name,
                    p.sex,
                    p.birth_date,
                    p.birth_place_code,
                    p.ins,
                    p.address,
                    p.postcode,
                    p.city,
                    p.phone,
                    p.truth,
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=11_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = generate(args.persons, args.seed)
    write_csv(rows, args.out)
    print(f"{len(rows)} records for {args.persons} persons -> {args.out}")


if __name__ == "__main__":
    main()
