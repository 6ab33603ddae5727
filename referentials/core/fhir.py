"""FHIR R4 plumbing shared by every context's FHIR routes: media type, OperationOutcome,
searchset Bundles with paging links, and the parsing of token and count parameters."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse

from referentials.core.errors import ValidationFailed

FHIR_JSON = "application/fhir+json"
FHIR_VERSION = "4.0.1"
DEFAULT_COUNT = 20
MAX_COUNT = 100

# HTTP status -> OperationOutcome.issue.code (FHIR issue-type value set).
_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    410: "deleted",
    412: "conflict",
    415: "not-supported",
    422: "processing",
    428: "required",
    503: "transient",
    504: "timeout",
}


class FhirResponse(JSONResponse):
    """JSON rendered with the FHIR media type."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class FhirBadRequest(ValidationFailed):
    """A FHIR parameter the server cannot use: 400, as FHIR servers answer."""

    status_code = 400
    code = "invalid_parameter"


def operation_outcome(
    status_code: int, diagnostics: str, *, severity: str = "error", expression: str | None = None
) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "severity": severity,
        "code": _ISSUE_CODES.get(status_code, "exception" if status_code >= 500 else "invalid"),
        "diagnostics": diagnostics,
    }
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def parse_token(value: str, parameter: str) -> tuple[str | None, str]:
    """``system|code`` (or a bare code) of a token search parameter."""
    if "|" not in value:
        return None, value
    system, _, code = value.partition("|")
    if not code:
        raise FhirBadRequest(f"{parameter}: give system|value", fields={parameter: "value missing"})
    return system or None, code


def parse_count(raw: str | None) -> int:
    """``_count``, capped at MAX_COUNT (FHIR lets a server return fewer than asked)."""
    if raw is None:
        return DEFAULT_COUNT
    if not raw.isdigit():
        raise FhirBadRequest("_count must be a non-negative integer", fields={"_count": raw})
    return min(int(raw), MAX_COUNT)


def parse_offset(raw: str | None) -> int:
    if raw is None:
        return 0
    if not raw.isdigit():
        raise FhirBadRequest("_offset must be a non-negative integer", fields={"_offset": raw})
    return int(raw)


def base_url(request: Request) -> str:
    """The server's base as the caller reached it (absolute references and links)."""
    return str(request.base_url).rstrip("/") + "/fhir"


def _page_url(request: Request, offset: int, count: int) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("_offset",)]
    params = [(k, v) for k, v in params if k != "_count"] + [("_count", str(count))]
    params.append(("_offset", str(offset)))
    return f"{str(request.url).split('?')[0]}?{urlencode(params)}"


def searchset(
    request: Request,
    entries: list[dict[str, Any]],
    *,
    total: int,
    offset: int,
    count: int,
) -> dict[str, Any]:
    """A searchset Bundle with its total and self/next/previous links (offset paging)."""
    links = [{"relation": "self", "url": _page_url(request, offset, count)}]
    if count and offset + count < total:
        links.append({"relation": "next", "url": _page_url(request, offset + count, count)})
    if offset > 0 and count:
        links.append(
            {"relation": "previous", "url": _page_url(request, max(offset - count, 0), count)}
        )
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
        "entry": entries,
    }


def entry(request: Request, resource: dict[str, Any], **search: Any) -> dict[str, Any]:
    """A Bundle entry with its fullUrl and search mode (match unless told)."""
    full_url = f"{base_url(request)}/{resource['resourceType']}/{resource['id']}"
    return {"fullUrl": full_url, "resource": resource, "search": {"mode": "match", **search}}
