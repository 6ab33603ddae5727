"""Checks every resource Socle emits against the FHIR R4 models of fhir.resources (R4B
subpackage: R4 resources with R4B's technical corrections; fhir.resources 8 ships no plain R4)."""

from __future__ import annotations

from typing import Any

import httpx
from fhir.resources.R4B import get_fhir_model_class

FHIR_JSON = "application/fhir+json"


def validate(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate a resource (and each resource a Bundle or Parameters holds); return it."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for item in resource.get("entry") or []:
        validate(item["resource"])
    for item in resource.get("parameter") or []:
        if "resource" in item:
            validate(item["resource"])
    return resource


def fhir_json(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The validated body of a FHIR answer with the expected status and media type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    return validate(response.json())


def outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    """An OperationOutcome error answer."""
    body = fhir_json(response, status)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    return body
