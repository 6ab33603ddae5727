"""INS matricule (NIR / NIA) checks used by the hard rules."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

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


def ins_table(values: Sequence[str]) -> tuple[list[str], list[int]]:
    """(matricule13, 1 if is_valid_ins) of each value; at least one row (for empty input).

    Nearly every INS of a file is 15 (or 13) plain digits: those are checked column-wise in
    numpy (a million values); any other value (spaces, Corsica's 2A/2B, junk) by the functions
    above, with the same result.
    """
    plain = [len(v) in (13, 15) and v.isascii() and v.isdigit() for v in values]
    matricules = [v[:13] if p else matricule13(v) for v, p in zip(values, plain, strict=True)]
    valid = np.zeros(len(values), dtype=np.int64)
    rows = np.flatnonzero(np.array(plain, dtype=bool))
    if len(rows):
        fast = [values[i] for i in rows.tolist()]
        raw = np.frombuffer(np.array(fast, dtype="S15").tobytes(), dtype=np.uint8)
        d = raw.reshape(-1, 15).astype(np.int64) - ord("0")
        month = d[:, 3] * 10 + d[:, 4]
        ok = np.isin(d[:, 0], (1, 2, 3, 7, 8)) & (((month >= 1) & (month <= 12)) | (month >= 20))
        number = d[:, :13] @ (10 ** np.arange(12, -1, -1, dtype=np.int64))
        short = d[:, 13] < 0  # 13 characters: padded with NUL, no key to check
        ok &= short | (97 - number % 97 == d[:, 13] * 10 + d[:, 14])
        valid[rows] = ok
    others = [i for i, p in enumerate(plain) if not p]
    for i in others:
        valid[i] = 1 if matricules[i] and is_valid_ins(values[i]) else 0
    return matricules or [""], valid.tolist() or [0]
