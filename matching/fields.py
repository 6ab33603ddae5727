"""Compared fields and their agreement levels, best first; level 0 is always "missing".

A missing value carries no evidence either way, so its weight is fixed at zero.
"""

from __future__ import annotations

FIELD_LEVELS: dict[str, tuple[str, ...]] = {
    "birth_name": (
        "missing",
        "exact",
        "phonetic",
        "part",
        "used_name",
        "swapped",
        "jw_high",
        "typo",
        "different",
    ),
    "first_names": (
        "missing",
        "exact",
        "first_in_list",
        "swapped",
        "phonetic",
        "jw_high",
        "typo",
        "other_in_list",
        "different",
    ),
    "sex": ("missing", "exact", "different"),
    "birth_date": (
        "missing",
        "exact",
        "swap",
        "one_digit",
        "year_1",
        "default_day",
        "different",
    ),
    "birth_place": ("missing", "exact", "department", "different"),
    "ins": ("missing", "exact", "different"),
    "address": ("missing", "close", "similar", "different"),
    "postcode": ("missing", "exact", "department", "different"),
    "city": ("missing", "exact", "close", "different"),
    "phone": ("missing", "exact", "different"),
}
FIELDS: tuple[str, ...] = tuple(FIELD_LEVELS)
CONTACT_FIELDS: frozenset[str] = frozenset({"address", "postcode", "city", "phone"})
# Fields whose exact agreement is adjusted by the frequency of the agreeing value.
TF_FIELDS: tuple[str, ...] = ("birth_name", "first_names")


def level_index(field: str, level: str) -> int:
    """Position of a level in its field's list."""
    return FIELD_LEVELS[field].index(level)
