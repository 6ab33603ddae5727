"""Turning API input into stored traits, with the RNIV checks that name the field."""

from __future__ import annotations

from datetime import date
from typing import Any

from identity.errors import TraitError
from identity.referential import rules
from identity.referential.schemas import IdentityCreate, IdentityUpdate, MatchRequest

STRICT_TRAITS = ("birth_name", "first_names", "sex", "birth_date", "birth_place_code")


def normalized_fields(
    data: IdentityCreate | IdentityUpdate | MatchRequest, today: date
) -> dict[str, Any]:
    """The given fields in their stored form; raises TraitError naming the bad field."""
    given = data.model_dump(
        exclude_unset=True, exclude={"source", "reason", "limit", "document_type", "validated_at"}
    )
    if isinstance(data, MatchRequest):
        # A search: an unknown trait is simply not searched on (null is not "empty it").
        given = {k: v for k, v in given.items() if v is not None}
    out: dict[str, Any] = {}
    for field, value in given.items():
        if value is None:
            if field in ("birth_name", "first_names", "sex", "birth_date"):
                raise TraitError(field, f"{field} cannot be emptied")
            out[field] = None
        elif field == "birth_name" or field == "used_name":
            out[field] = rules.normalize_trait(value, field, birth_name=True)
        elif field == "used_first_name":
            out[field] = rules.normalize_trait(value, field)
        elif field == "first_names":
            out[field] = " ".join(rules.normalize_first_names(value))
        elif field == "birth_place_code":
            out[field] = rules.check_cog(value)
        elif field == "birth_date":
            out[field] = rules.check_birth_date(value, today)
        else:
            out[field] = value
    if "first_names" in out:
        out["first_name"] = out["first_names"].split(" ")[0]
    return out
