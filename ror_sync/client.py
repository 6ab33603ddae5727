"""Client of the national ROR FHIR API: paged searches, _lastUpdated deltas, region filter."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx

from ror_sync.errors import RorApiError
from ror_sync.fhir_reader import Located, next_link, unwrap

log = logging.getLogger("socle.ror.client")

REGION_TAG_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R30-RegionOM/FHIR/TRE-R30-RegionOM"
# The extraction query the ROR developer guide recommends: offers with their organisations
# (walking partOf up to the EG) and places, so one search brings whole hierarchies.
HEALTHCARE_SERVICE_INCLUDES: list[tuple[str, str]] = [
    ("_include", "HealthcareService:organization"),
    ("_include:iterate", "Organization:partof"),
    ("_include", "HealthcareService:location"),
]
# Organisations and places changed without their offers are searched on their own too, and
# the professionals' roles in the offers where the ROR holds some.
SEARCHES = ("HealthcareService", "Organization", "Location", "PractitionerRole")
MAX_PAGES = 1_000_000


class RorFhirClient:
    """Reads resources from a ROR FHIR server, page by page, following ``next`` links."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str = "",
        headers: dict[str, str] | None = None,
        timeout: float = 60.0,
        page_size: int = 500,
        region: str = "",
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        all_headers = {"Accept": "application/fhir+json", **(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.region = region
        self.http = httpx.Client(headers=all_headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RorFhirClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def params(self, resource_type: str, since: datetime | None) -> list[tuple[str, str]]:
        """The search parameters of one resource type."""
        params: list[tuple[str, str]] = [("_count", str(self.page_size))]
        if resource_type == "HealthcareService":
            params += HEALTHCARE_SERVICE_INCLUDES
        if since is not None:
            params.append(("_lastUpdated", f"ge{since.isoformat(timespec='seconds')}"))
        if self.region:
            params.append(("_tag", f"{REGION_TAG_SYSTEM}|{self.region}"))
        return params

    def resources(self, since: datetime | None = None) -> Iterator[Located]:
        """Every resource changed since ``since`` (everything when None)."""
        for resource_type in SEARCHES:
            yield from self.search(resource_type, since)

    def search(self, resource_type: str, since: datetime | None) -> Iterator[Located]:
        url: str | None = f"{self.base_url}/{resource_type}"
        params: list[tuple[str, Any]] | None = list(self.params(resource_type, since))
        for page in range(1, MAX_PAGES):
            if url is None:
                return
            bundle = self._get(url, params, f"{resource_type} page {page}")
            yield from unwrap(bundle, f"{self.base_url} {resource_type} page {page}")
            # The next link carries every parameter (and the server's cursor).
            url, params = next_link(bundle), None

    def _get(self, url: str, params: list[tuple[str, Any]] | None, what: str) -> dict[str, Any]:
        try:
            response = self.http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise RorApiError(f"ROR API {what}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise RorApiError(
                f"ROR API {what}: HTTP {response.status_code}",
                fields={"status": response.status_code, "url": str(response.url)},
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise RorApiError(f"ROR API {what}: the answer is not JSON") from exc
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            raise RorApiError(f"ROR API {what}: a Bundle was expected")
        return body
