"""Errors of the ROR context."""

from __future__ import annotations

from referentials.core.errors import AppError, UpstreamError


class RorFormatError(AppError):
    """A ROR file or resource that cannot be read; the message names file, entry and field."""

    status_code = 422
    code = "ror_format_error"

    def __init__(self, where: str, field: str, problem: str) -> None:
        super().__init__(f"{where}: field '{field}': {problem}", fields={field: problem})
        self.where = where
        self.field = field


class RorSourceError(AppError):
    """The ROR source (path or URL) cannot be used."""

    status_code = 400
    code = "ror_source_error"


class RorApiError(UpstreamError):
    """The ROR FHIR API answered with an error or unreadable content."""

    code = "ror_api_error"


class UnknownCommune(AppError):
    """An orientation search on a commune whose position is unknown."""

    status_code = 404
    code = "unknown_commune"
