"""Realistic French identity errors applied to a duplicate record (benchmark data, not a test)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

PHONETIC = [
    ("EAU", "O"),
    ("AU", "O"),
    ("O", "AU"),
    ("PH", "F"),
    ("F", "PH"),
    ("TH", "T"),
    ("T", "TH"),
    ("EFEBVRE", "EFEVRE"),
    ("EFEVRE", "EFEUVRE"),
    ("C", "K"),
    ("QU", "K"),
    ("Y", "I"),
    ("I", "Y"),
    ("AI", "E"),
    ("EI", "E"),
    ("LL", "L"),
    ("L", "LL"),
    ("NN", "N"),
    ("N", "NN"),
    ("TT", "T"),
    ("SS", "S"),
    ("ER", "E"),
    ("EZ", "ET"),
    ("AN", "EN"),
    ("EN", "AN"),
    ("IN", "AIN"),
    ("S", "Z"),
    ("CH", "SH"),
    ("K", "C"),
    ("GU", "G"),
    ("E", "É"),
    ("OIS", "OI"),
]
FINAL = [("T", "D"), ("D", "T"), ("S", ""), ("X", ""), ("", "S"), ("E", ""), ("", "E")]
NEAR_KEYS = dict(zip("AZERTYUIOPQSDFGHJKLMWXCVBN", "ZAREYTIUPOSQFDHGKJMLXWVCNB", strict=True))
ACCENTED = {
    "HELENE": "Hélène",
    "JEROME": "Jérôme",
    "FRANCOIS": "François",
    "LEA": "Léa",
    "CELINE": "Céline",
    "ELODIE": "Élodie",
    "FREDERIC": "Frédéric",
    "ANDRE": "André",
    "RENE": "René",
    "STEPHANE": "Stéphane",
    "THEO": "Théo",
    "CLEMENT": "Clément",
}


def typo(rng: random.Random, word: str) -> str:
    """One keyboard error: substitution by a neighbour key, deletion, insertion, transposition."""
    if len(word) < 3:
        return word + rng.choice("EAS")
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["sub", "del", "ins", "swap"])
    if kind == "sub" and word[i] in NEAR_KEYS:
        return word[:i] + NEAR_KEYS[word[i]] + word[i + 1 :]
    if kind == "del":
        return word[:i] + word[i + 1 :]
    if kind == "ins":
        return word[:i] + word[i] + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def phonetic_variant(rng: random.Random, word: str) -> str:
    """A spelling that sounds the same (LEFEBVRE/LEFEVRE, DUPONT/DUPOND, THOMAS/TOMAS)."""
    options = [(a, b) for a, b in PHONETIC if a in word]
    finals = [(a, b) for a, b in FINAL if word.endswith(a) and (a or not word.endswith("S"))]
    if finals and (not options or rng.random() < 0.35):
        a, b = rng.choice(finals)
        return (word[: len(word) - len(a)] if a else word) + b
    if not options:
        return typo(rng, word)
    a, b = rng.choice(options)
    start = rng.choice([i for i in range(len(word)) if word.startswith(a, i)])
    return word[:start] + b + word[start + len(a) :]


def particle_variant(rng: random.Random, name: str) -> str:
    """DE LA FONTAINE → DELAFONTAINE / LA FONTAINE; D'ARTAGNAN → DARTAGNAN; else a typo."""
    if "'" in name:
        return name.replace("'", rng.choice(["", " "]))
    words = name.split(" ")
    if len(words) > 1:
        return rng.choice(["".join(words), " ".join(words[1:]), "-".join(words)])
    return phonetic_variant(rng, name)


def _given(rng: random.Random, names: tuple[str, ...], used_first: str) -> tuple[str, ...]:
    """Given-name errors: order, only one, compound forms, used first name."""
    first = names[0]
    if "-" in first and rng.random() < 0.6:
        forms = [first.replace("-", " "), first.replace("-", ""), first.split("-")[0]]
        return (rng.choice(forms), *names[1:])
    if used_first and rng.random() < 0.5:
        return (used_first,)
    if len(names) > 1:
        return rng.choice([names[1:] + names[:1], names[:1], (names[1],)])
    return (phonetic_variant(rng, first) if rng.random() < 0.5 else typo(rng, first),)


def _date(rng: random.Random, date: str) -> str:
    y, m, d = int(date[:4]), int(date[5:7]), int(date[8:])
    kind = rng.choice(["swap", "digit", "year", "default", "default"])
    if kind == "swap" and d <= 12 and d != m:
        return f"{y:04d}-{d:02d}-{m:02d}"
    if kind == "year":
        return f"{y + rng.choice([-1, 1]):04d}-{m:02d}-{d:02d}"
    if kind == "default":
        return f"{y:04d}-01-01" if rng.random() < 0.7 else f"{y:04d}-{m:02d}-01"
    text = list(f"{y:04d}{m:02d}{d:02d}")
    pos = rng.choice([2, 3, 5, 6, 7])
    text[pos] = rng.choice([c for c in "0123456789" if c != text[pos]])
    digits = "".join(text)
    mm, dd = int(digits[4:6]), int(digits[6:])
    if not (1 <= mm <= 12 and 1 <= dd <= 28):
        return f"{y:04d}-{m:02d}-{d:02d}"
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"


def _place(rng: random.Random, place: str) -> str:
    if rng.random() < 0.5 or place.startswith("99"):
        return ""
    return f"{place[:2]}{rng.randint(1, 400):03d}"


ERRORS: list[tuple[str, float]] = [
    ("typo_birth_name", 0.12),
    ("phonetic_birth_name", 0.12),
    ("married_name", 0.08),
    ("given_names", 0.16),
    ("typo_first_name", 0.07),
    ("particles", 0.03),
    ("inversion", 0.02),
    ("date", 0.12),
    ("place", 0.08),
    ("sex", 0.02),
    ("case_accents", 0.06),
    ("drop_ins", 0.06),
    ("double_name", 0.02),
    ("moved", 0.04),
]


def _apply(rng: random.Random, p: Any, kind: str, surname: Callable[[], str]) -> Any:
    if kind == "typo_birth_name":
        return replace(p, birth_name=typo(rng, p.birth_name))
    if kind == "phonetic_birth_name":
        return replace(p, birth_name=phonetic_variant(rng, p.birth_name))
    if kind == "married_name" and p.used_name:
        return replace(p, birth_name=p.used_name, used_name=rng.choice(["", p.used_name]))
    if kind == "given_names":
        return replace(p, first_names=_given(rng, p.first_names, p.used_first_name))
    if kind == "typo_first_name":
        return replace(p, first_names=(typo(rng, p.first_names[0]), *p.first_names[1:]))
    if kind == "particles":
        return replace(p, birth_name=particle_variant(rng, p.birth_name))
    if kind == "inversion":
        return replace(p, birth_name=p.first_names[0], first_names=(p.birth_name,))
    if kind == "date":
        return replace(p, birth_date=_date(rng, p.birth_date))
    if kind == "place":
        return replace(p, birth_place_code=_place(rng, p.birth_place_code))
    if kind == "sex":
        return replace(p, sex="M" if p.sex == "F" else "F")
    if kind == "case_accents":
        names = tuple(ACCENTED.get(n, n.capitalize()) for n in p.first_names)
        return replace(p, birth_name=p.birth_name.title(), first_names=names)
    if kind == "drop_ins":
        return replace(p, ins="")
    if kind == "double_name":
        return replace(p, birth_name=f"{p.birth_name} {surname()}")
    if kind == "moved":
        return replace(p, address="", postcode="", city="", phone="")
    return replace(p, birth_name=typo(rng, p.birth_name))


def apply_errors(rng: random.Random, person: Any, surname: Callable[[], str]) -> Any:
    """0 to 3 errors, drawn by their observed weights."""
    count = rng.choices([0, 1, 2, 3], [0.12, 0.45, 0.3, 0.13])[0]
    kinds = rng.choices([k for k, _ in ERRORS], [w for _, w in ERRORS], k=count)
    for kind in kinds:
        person = _apply(rng, person, kind, surname)
    return person
