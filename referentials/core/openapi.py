"""The error responses every API operation can give, declared in the OpenAPI document.

The routes declare their success model; this adds the error statuses they share (one shape:
``{"error", "detail", "fields"}``), so that clients and the contract tests know them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from referentials.core.oauth.docs import add_token_scheme

API_PREFIXES = ("/api/", "/fhir/")
REF = "#/components/schemas/ErrorBody"
OUTCOME = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {"resourceType": {"const": "OperationOutcome"}, "issue": {"type": "array"}},
}
DESCRIPTIONS = {
    "400": "The body could not be parsed (not JSON, or not UTF-8)",
    "401": "No key or token, or an unknown, revoked or expired one",
    "403": "The key lacks the scope this operation needs",
    "404": "Not found",
    "409": "Conflict with the record's current state or version",
    "413": "Request body too large",
    "415": "Unsupported media type",
    "422": "Invalid request (the offending fields are named)",
    "428": "If-Match is required",
    "429": "Too many requests for this key (see Retry-After)",
    "502": "The upstream service (INSi) refused or answered badly; nothing was changed",
    "503": "The database or an upstream service is unavailable; nothing was changed",
    "504": "The upstream service did not answer in time; nothing was changed",
}


class ErrorBody(BaseModel):
    """The one error shape of the API."""

    error: str = Field(description="a stable code, e.g. not_found, rule_conflict")
    detail: str = Field(description="what happened and what to do, in words")
    fields: dict[str, Any] = Field(description="the offending fields or values, when any")


def statuses_for(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer with."""
    found = ["404", "422", "429", "503"]
    if operation.get("security"):
        found += ["401", "403"]
    if method != "get":
        found.append("409")
    if "requestBody" in operation or method in ("post", "put", "patch"):
        found += ["400", "413", "415"]
    if path.startswith("/fhir/"):
        # FHIR answers a bad parameter with 400 (an OperationOutcome).
        found.append("400")
    headers = {p.get("name", "").lower() for p in operation.get("parameters", [])}
    if "if-match" in headers:
        found.append("428")
    if "/insi-" in path:
        found += ["502", "504"]
    return sorted(set(found))


def _error_response(status: str, fhir: bool) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": {"$ref": REF}}}
    if fhir:
        # Under /fhir errors are OperationOutcomes, but for those the limits answer first.
        content["application/fhir+json"] = {"schema": OUTCOME}
    response: dict[str, Any] = {"description": DESCRIPTIONS[status], "content": content}
    if status == "429":
        response["headers"] = {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        }
    return response


def add_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare the shared error responses on every API operation (in place; returned)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorBody"] = ErrorBody.model_json_schema()
    for path, item in schema.get("paths", {}).items():
        if not path.startswith(API_PREFIXES):
            continue
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in statuses_for(path, method, operation):
                current = responses.get(status)
                # FastAPI's default 422 describes its own body; ours is rendered as ErrorBody.
                if current is None or "HTTPValidationError" in str(current):
                    responses[status] = _error_response(status, path.startswith("/fhir/"))
    return schema


def install_error_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare the error responses."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        app.openapi_schema = add_token_scheme(add_error_responses(build()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
