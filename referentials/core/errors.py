"""One error tree, rendered by one handler as ``{"error", "detail", "fields"}``."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    """A failure the caller can act upon; carries its HTTP status and a stable code."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        self.fields = fields or {}


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class ValidationFailed(AppError):
    """Business validation of input: 422 with the offending fields."""

    status_code = 422
    code = "validation_error"


class PreconditionRequired(AppError):
    status_code = 428
    code = "precondition_required"


class UpstreamUnavailable(AppError):
    status_code = 503
    code = "upstream_unavailable"


class UpstreamTimeout(AppError):
    status_code = 504
    code = "upstream_timeout"


class UpstreamError(AppError):
    status_code = 502
    code = "upstream_error"
