"""Normalisation of identity traits into the INS character set, for comparison only.

The INS character set is upper-case A-Z, space, apostrophe and hyphen. Unlike the INSi request
builder, this module never rejects a value: a character with no equivalent becomes a space, so
that a badly typed trait can still be compared.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

# Ligatures and letters that NFKD does not decompose into A-Z.
_SPECIAL = str.maketrans(
    {
        "Œ": "OE",
        "œ": "OE",
        "Æ": "AE",
        "æ": "AE",
        "ß": "SS",
        "Ø": "O",
        "ø": "O",
        "Ð": "D",
        "ð": "D",
        "Ł": "L",
        "ł": "L",
        "Þ": "TH",
        "þ": "TH",
        # Typographic apostrophes and dashes typed by word processors.
        "’": "'",
        "‘": "'",
        "`": "'",
        "´": "'",
        "‐": "-",
        "‑": "-",
        "–": "-",
        "—": "-",
    }
)
_OUTSIDE = re.compile(r"[^A-Z' \-]")
_SPACES = re.compile(r" +")
_DOUBLE_HYPHEN = re.compile(r"-{3,}")
_APOS = re.compile(r"'+")
_GLUE = re.compile(r"[ '\-]")
_NOT_DIGIT = re.compile(r"[^0-9]")

# Particles found at the start of French (and neighbouring) surnames. Order matters: the longest
# multi-word forms are tried first by split_particles.
PARTICLES: frozenset[str] = frozenset(
    {"DE", "DU", "DES", "LA", "LE", "LES", "D", "L", "DI", "DA", "DEL", "DELLA", "VAN", "VON"}
)
_PART_SPLIT = re.compile(r"--| |-")
# A trait already in normal form: A-Z words joined by single separators. Most input is (hospital
# systems store upper-case traits), and the rewrites below would return it unchanged.
_NORMAL = re.compile(r"[A-Z]+(?:[ '\-][A-Z]+)*")


@lru_cache(maxsize=262_144)
def normalize_trait(value: str) -> str:
    """Map a trait onto the INS character set: upper case, no accents, no ligatures."""
    if _NORMAL.fullmatch(value):
        return value
    text = unicodedata.normalize("NFKD", value.translate(_SPECIAL))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).upper()
    text = _OUTSIDE.sub(" ", text.translate(_SPECIAL))
    text = _APOS.sub("'", text)
    text = _DOUBLE_HYPHEN.sub("--", text)
    # Spaces around an apostrophe or hyphen are typing noise ("D' ARTAGNAN", "JEAN - PIERRE").
    text = re.sub(r" *(['\-]+) *", r"\1", text)
    text = _SPACES.sub(" ", text)
    return text.strip(" '-")


def glue(value: str) -> str:
    """Normalised trait with separators removed: DE LA FONTAINE and DELAFONTAINE agree."""
    return _GLUE.sub("", normalize_trait(value))


def split_particles(value: str) -> tuple[str, str]:
    """Split a surname into (leading particles, core): ("D'", "ARTAGNAN"), ("DE LA", "FONTAINE")."""
    text = normalize_trait(value)
    particles: list[str] = []
    rest = text
    while True:
        match = re.match(r"([A-Z]+)(['\- ])(.+)", rest)
        if match is None or match.group(1) not in PARTICLES:
            break
        word, sep, tail = match.groups()
        # A particle is only a particle when something that is not a particle follows it.
        particles.append(word + ("'" if sep == "'" else ""))
        rest = tail
    if not particles:
        return "", text
    prefix = " ".join(particles).replace("' ", "'")
    return prefix, rest


def surname_core(value: str) -> str:
    """Glued surname without its leading particles (LA FONTAINE → FONTAINE)."""
    return _GLUE.sub("", split_particles(value)[1])


def name_parts(value: str) -> tuple[str, ...]:
    """Parts of a double or compound name (DUPONT--DURAND, DUPONT DURAND, JEAN-PIERRE)."""
    text = normalize_trait(value)
    parts = [_GLUE.sub("", p) for p in _PART_SPLIT.split(text)]
    return tuple(p for p in parts if p and p not in PARTICLES)


def split_given_names(first_names: tuple[str, ...] | str) -> tuple[str, ...]:
    """Given names as a normalised tuple; a string is split on spaces (INS ListePrenom form)."""
    items = first_names.split(" ") if isinstance(first_names, str) else first_names
    out: list[str] = []
    for item in items:
        out.extend(n for n in normalize_trait(item).split(" ") if n)
    return tuple(out)


def given_name_forms(names: tuple[str, ...]) -> tuple[set[str], set[str]]:
    """(whole forms, parts) of a given-name list, all glued.

    Whole forms are each name glued (JEAN-PIERRE → JEANPIERRE) and each pair of adjacent names
    glued, since "JEAN PIERRE" typed with a space is one compound name split in two. Parts are the
    hyphen-separated pieces, so a cut compound (JEAN for JEAN-PIERRE) is recognised.
    """
    wholes: set[str] = set()
    parts: set[str] = set()
    glued = [_GLUE.sub("", n) for n in names]
    for name, flat in zip(names, glued, strict=True):
        wholes.add(flat)
        if "-" in name:
            parts.update(p for p in name.split("-") if p)
    for left, right in itertools.pairwise(glued):
        wholes.add(left + right)
    return wholes, parts - wholes


@lru_cache(maxsize=65_536)
def normalize_free_text(value: str) -> str:
    """Upper case A-Z and digits only, single spaces: addresses and cities keep their numbers."""
    text = unicodedata.normalize("NFKD", value.translate(_SPECIAL))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).upper()
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", text).split())


def digits(value: str) -> str:
    """Only the digits of a value (phone numbers)."""
    return _NOT_DIGIT.sub("", value)
