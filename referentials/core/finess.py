"""The shape of a FINESS number, checked the same way wherever one comes in.

Nine characters: the department on two (digits, or ``2A`` / ``2B`` for Corsica; overseas
numbers start with ``97`` or ``98``), then six digits and the key. Only the shape is checked:
the key passes the Luhn check on every numeric number seen, but no text states the rule, and
none is known for Corsica (the directory import warns on a failed key instead).
"""

from __future__ import annotations

import re

from referentials.core.errors import ValidationFailed

FINESS_PATTERN = r"^(?:[0-9]{2}|2[AB])[0-9]{7}$"
_FINESS = re.compile(FINESS_PATTERN)


def is_finess(value: str) -> bool:
    """Whether ``value`` has the shape of a FINESS number."""
    return _FINESS.fullmatch(value) is not None


def check_finess(value: str) -> str:
    """``value`` when it is a FINESS number; else ValidationFailed naming it (field ``finess``)."""
    if not is_finess(value):
        raise ValidationFailed(
            f"{value!r} is not a FINESS number (9 characters: the department, 2A or 2B for "
            "Corsica, then 7 digits)",
            fields={"finess": value},
        )
    return value
