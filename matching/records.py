"""Plain identity records, the only input type of the matching library."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    """One identity as stored by the caller; every trait but the id may be empty."""

    id: str
    birth_name: str = ""
    first_names: tuple[str, ...] = ()  # birth given names, civil order
    used_name: str = ""
    used_first_name: str = ""
    sex: str = ""  # "M" | "F" | ""
    birth_date: str = ""  # "YYYY-MM-DD" or ""
    birth_place_code: str = ""  # INSEE COG, 5 chars, or ""
    ins: str = ""  # INS matricule (13 or 15 chars) or ""
    ins_history: tuple[str, ...] = ()  # older matricules linked by INSi history
    address: str = ""
    postcode: str = ""
    city: str = ""
    phone: str = ""
