"""The one error renderer: ``{"error": code, "detail": message, "fields": {...}}``."""

from __future__ import annotations

import logging
import traceback
from secrets import token_hex
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from referentials.core.errors import AppError
from referentials.core.fhir import FhirResponse, operation_outcome

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


# PostgreSQL's deadlock and serialization failures: two writers met, nothing was changed.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def _is_conflict(exc: Exception) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in RETRYABLE_SQLSTATES


def _is_fhir(request: Request) -> bool:
    # FHIR clients expect an OperationOutcome, whatever failed.
    path = request.url.path
    return path == "/fhir" or path.startswith("/fhir/")


def _outcome(status_code: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    # FHIR answers a bad search or operation parameter with 400, not 422.
    status_code = 400 if status_code == 422 else status_code
    return FhirResponse(operation_outcome(status_code, detail), status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error the same way (as an OperationOutcome under /fhir)."""

    @app.exception_handler(AppError)
    def _app_error(request: Request, exc: AppError) -> JSONResponse:
        if _is_fhir(request):
            return _outcome(exc.status_code, exc.message)
        return JSONResponse(
            error_body(exc.code, exc.message, exc.fields), status_code=exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = _validation_fields(exc)
        detail = "invalid request: " + "; ".join(f"{k}: {v}" for k, v in fields.items())
        if _is_fhir(request):
            return _outcome(400, detail)
        return JSONResponse(error_body("validation_error", detail, fields), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if _is_fhir(request):
            return _outcome(exc.status_code, str(exc.detail), getattr(exc, "headers", None))
        codes = {
            400: "malformed_body",
            404: "not_found",
            405: "method_not_allowed",
            413: "payload_too_large",
        }
        code = codes.get(exc.status_code, "http_error")
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

    def _db_down(_request: Request, exc: Exception) -> JSONResponse:
        if _is_conflict(exc):
            return JSONResponse(
                error_body("conflict", "a concurrent change got there first: retry"),
                status_code=409,
            )
        log.error("database unavailable: %s", type(getattr(exc, "orig", exc)).__name__)
        return JSONResponse(
            error_body("database_unavailable", "the database is unavailable; retry shortly"),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    def _out_of_range(request: Request, _exc: Exception) -> JSONResponse:
        # A number the database cannot store (e.g. an id or offset past 64 bits) finds nothing.
        detail = "a parameter is out of the range the service accepts"
        if _is_fhir(request):
            return _outcome(400, detail)
        return JSONResponse(error_body("out_of_range", detail), status_code=422)

    @app.exception_handler(IntegrityError)
    def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # Expected conflicts are answered where they happen; one that is not must still not
        # log the database's message: PostgreSQL's DETAIL repeats the key's values (traits).
        diag = getattr(getattr(exc, "orig", None), "diag", None)
        log.error(
            "integrity error on %s %s: %s",
            request.method,
            request.url.path,
            getattr(diag, "constraint_name", None) or type(getattr(exc, "orig", exc)).__name__,
        )
        detail = "the change conflicts with a stored record; reload it and retry"
        if _is_fhir(request):
            return _outcome(409, detail)
        return JSONResponse(error_body("conflict", detail), status_code=409)

    for too_large in (OverflowError, DataError):
        app.add_exception_handler(too_large, _out_of_range)

    # Lost or refused connections and an exhausted pool: the request changed nothing.
    for unavailable in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(unavailable, _db_down)


class UnexpectedErrors:
    """The last resort: an error no handler expected is answered 500 in the API's shape (an
    OperationOutcome under /fhir) with an incident id, and logged with that id, its type and
    where it was raised, never with its message, which may quote a patient's traits.

    Without it, Starlette answers a plain-text 500 and uvicorn logs the message. Pure ASGI and
    outermost, so that an error in any middleware is caught too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            incident = token_hex(6)
            request = Request(scope)
            log.error(
                "unexpected error, incident %s, on %s %s: %s\n%s",
                incident,
                request.method,
                request.url.path,
                _types(exc),
                "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
            )
            if started:  # too late for another answer: the connection is closed unfinished
                return
            detail = f"an unexpected error; reported as incident {incident}"
            if _is_fhir(request):
                response: JSONResponse = _outcome(500, detail)
            else:
                response = JSONResponse(error_body("internal_error", detail), status_code=500)
            await response(scope, receive, send)


def _types(exc: BaseException) -> str:
    """The exception's type, and those of the ones it was raised from or while handling."""
    names: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(names) < 5:
        names.append(type(seen).__qualname__)
        seen = seen.__cause__ or seen.__context__
    return " <- ".join(names)
