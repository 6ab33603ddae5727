"""Birth places through the history of communes (INSEE COG): is a code the same place later?

INSi returns the COG code of the commune *at the birth date*; a front desk often types today's
commune. Two codes name the same birth place when one became the other after the birth, by one
of the moves of INSEE's published file of commune events (``v_mvt_commune_AAAA.csv``):

- 31 simple merger, 32 new commune, 33 merger-association, 34 association turned into merger:
  the old commune's code now falls under the resulting commune's code;
- 41 code change by change of department (Corsica 1976: 20xxx -> 2Axxx / 2Bxxx), 50 code change
  by transfer of the chief town.

Only moves effective *after* the birth count (a child born in 2018 was not born in a commune
merged in 2017), followed in chains. A municipal district (Paris, Lyon, Marseille) is its
commune. Foreign births (``99`` + country) must be equal. Splits and restorations (20, 21) are
not followed: a commune that left another is a different place for the births before it left.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

SHIPPED = Path(__file__).parent / "data" / "v_mvt_commune_extract.csv"
MERGING_MOVES = frozenset({"31", "32", "33", "34", "41", "50"})
_FROM_TYPES = frozenset({"COM", "COMA", "COMD"})
# Municipal districts -> their commune (INSEE ARM codes).
_DISTRICTS = (("751", "75056"), ("6938", "69123"), ("132", "13055"))


@dataclass(frozen=True)
class Move:
    before: str
    after: str
    effective: date


class CommuneHistory:
    """The moves of communes, by code before the move."""

    def __init__(self, moves: Iterable[Move]) -> None:
        self._after: dict[str, list[Move]] = defaultdict(list)
        for move in moves:
            if move.before != move.after:
                self._after[move.before].append(move)

    def later_codes(self, code: str, born: date) -> set[str]:
        """Every code the commune ``code`` took through moves effective after ``born``."""
        seen = {code}
        todo = [code]
        while todo:
            for move in self._after.get(todo.pop(), ()):
                if move.effective > born and move.after not in seen:
                    seen.add(move.after)
                    todo.append(move.after)
        return seen

    def same_place(self, local: str | None, insi: str | None, born: date) -> bool:
        """True unless both codes are known and name different places at the birth date."""
        if not local or not insi:
            return True
        a, b = _commune(local.upper()), _commune(insi.upper())
        if a == b:
            return True
        if a.startswith("99") or b.startswith("99"):
            return False
        return b in self.later_codes(a, born) or a in self.later_codes(b, born)


def _commune(code: str) -> str:
    for prefix, commune in _DISTRICTS:
        if code.startswith(prefix) and len(code) == 5:
            return commune
    return code


def read_moves(path: Path) -> list[Move]:
    """The merging moves of a file in INSEE's published format (``v_mvt_commune_AAAA.csv``)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"MOD", "DATE_EFF", "TYPECOM_AV", "COM_AV", "TYPECOM_AP", "COM_AP"} - set(
            reader.fieldnames or []
        )
        if missing:
            raise ValueError(f"{path.name}: missing column(s) {', '.join(sorted(missing))}")
        return [
            Move(row["COM_AV"], row["COM_AP"], date.fromisoformat(row["DATE_EFF"]))
            for row in reader
            if row["MOD"] in MERGING_MOVES
            and row["TYPECOM_AV"] in _FROM_TYPES
            and row["TYPECOM_AP"] == "COM"
        ]


@lru_cache(maxsize=4)
def load(path: str = "") -> CommuneHistory:
    """The history read from ``path`` (the full published file), or the shipped extract."""
    return CommuneHistory(read_moves(Path(path) if path else SHIPPED))


_current: dict[str, str] = {"path": ""}


def configure(path: str) -> None:
    """Use the full published file (a setting); empty keeps the shipped extract."""
    load(path)  # read it now: a bad file fails at start-up, not at the first INSi answer
    _current["path"] = path


def current() -> CommuneHistory:
    return load(_current["path"])
