"""INS matricule (NIR / NIA) checks used by the hard rules."""

from __future__ import annotations

import re

_NIR = re.compile(r"^[12378]\d{2}(?:0[1-9]|1[0-2]|[2-4]\d|[5-9]\d)(?:\d{2}|2A|2B)\d{6}(\d{2})?$")


def matricule13(ins: str) -> str:
    """The 13 identifying characters of a matricule, without its key; "" if unusable."""
    text = ins.replace(" ", "").upper()
    return text[:13] if len(text) in (13, 15) else ""


def nir_key(matricule: str) -> int:
    """Control key of a 13-character matricule: 97 - (N mod 97), Corsica mapped to digits."""
    number = int(matricule[:13].upper().replace("2A", "19").replace("2B", "18"))
    return 97 - number % 97


def is_valid_ins(ins: str) -> bool:
    """Well-formed matricule whose key (when given) checks; never raises on bad input."""
    text = ins.replace(" ", "").upper()
    if not _NIR.match(text):
        return False
    return len(text) == 13 or nir_key(text) == int(text[13:])
