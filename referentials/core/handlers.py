"""The one error renderer: ``{"error": code, "detail": message, "fields": {...}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from referentials.core.errors import AppError

log = logging.getLogger("socle.errors")


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": code, "detail": detail, "fields": fields or {}}


def _validation_fields(exc: RequestValidationError) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        # The input itself is not echoed: it may carry identity traits.
        fields[".".join(loc) or "body"] = err.get("msg", "invalid")
    return fields


def install_error_handlers(app: FastAPI) -> None:
    """Render every error the same way."""

    @app.exception_handler(AppError)
    def _app_error(_request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.fields), status_code=exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = _validation_fields(exc)
        detail = "invalid request: " + "; ".join(f"{k}: {v}" for k, v in fields.items())
        return JSONResponse(error_body("validation_error", detail, fields), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(StaleDataError)
    def _stale(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return JSONResponse(
            error_body("stale_version", "the record changed meanwhile: reload it and retry"),
            status_code=409,
        )

    @app.exception_handler(OperationalError)
    def _db_down(_request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error: %s", type(exc.orig).__name__)
        return JSONResponse(
            error_body("database_unavailable", "the database is unavailable; retry shortly"),
            status_code=503,
        )
