"""Errors of the identity context."""

from __future__ import annotations

from referentials.core.errors import AppError, Conflict, NotFound, ValidationFailed


class TraitError(ValidationFailed):
    """A trait that breaks an RNIV rule; names the field (and the character when relevant)."""

    def __init__(self, field: str, message: str, *, char: str | None = None) -> None:
        detail: dict[str, str] = {"message": message}
        if char is not None:
            detail["character"] = char
        super().__init__(message, fields={field: detail})
        self.field = field
        self.char = char


class IdentityNotFound(NotFound):
    code = "identity_not_found"


class StaleVersion(Conflict):
    code = "stale_version"


class RuleConflict(Conflict):
    """The identity's state forbids the operation (e.g. INSi call on a DOUT identity)."""

    code = "rule_conflict"


__all__ = ["AppError", "IdentityNotFound", "RuleConflict", "StaleVersion", "TraitError"]
