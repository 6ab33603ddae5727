"""A small FHIR search server for the client tests (Starlette, served by uvicorn).

It answers ``GET /fhir/{type}`` with searchset Bundles of ``_count`` matches, follows the ROR
extraction query (HealthcareService pages include their organisations up the partOf chain and
their places), filters on ``_lastUpdated=ge…`` and ``_tag=system|code``, and pages with
``next`` links carrying a ``_page`` cursor. Every request is logged for the assertions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class FhirStore:
    def __init__(self, resources: list[dict[str, Any]]) -> None:
        self.resources = {(r["resourceType"], r["id"]): r for r in resources}
        self.requests: list[dict[str, list[str]]] = []
        self.fail_with: int | None = None

    def put(self, resource: dict[str, Any]) -> None:
        self.resources[(resource["resourceType"], resource["id"])] = resource

    def matches(self, kind: str, since: str | None, tag: str | None) -> list[dict[str, Any]]:
        found = []
        for (rtype, _), res in sorted(self.resources.items()):
            if rtype != kind:
                continue
            meta = res.get("meta") or {}
            if since and datetime.fromisoformat(meta["lastUpdated"]) < datetime.fromisoformat(
                since
            ):
                continue
            codes = {f"{t['system']}|{t['code']}" for t in meta.get("tag", [])}
            if tag and tag not in codes:
                continue
            found.append(res)
        return found

    def includes(self, offers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for offer in offers:
            ref = (offer.get("providedBy") or {}).get("reference", "")
            while ref.startswith("Organization/"):
                org = self.resources.get(("Organization", ref.split("/")[1]))
                if org is None:
                    break
                out[("Organization", org["id"])] = org
                ref = (org.get("partOf") or {}).get("reference", "")
            for loc in offer.get("location", []):
                place = self.resources.get(("Location", loc["reference"].split("/")[1]))
                if place is not None:
                    out[("Location", place["id"])] = place
        return list(out.values())


def make_app(store: FhirStore) -> Starlette:
    async def search(request: Request) -> JSONResponse:
        kind = request.path_params["kind"]
        params = {k: request.query_params.getlist(k) for k in request.query_params}
        store.requests.append({"kind": [kind], **params})
        if store.fail_with:
            return JSONResponse({"resourceType": "OperationOutcome"}, status_code=store.fail_with)
        count = int(request.query_params.get("_count", "50"))
        page = int(request.query_params.get("_page", "1"))
        since = request.query_params.get("_lastUpdated", "")[2:] or None
        found = store.matches(kind, since, request.query_params.get("_tag"))
        chunk = found[(page - 1) * count : page * count]
        entries = [{"resource": r, "search": {"mode": "match"}} for r in chunk]
        if kind == "HealthcareService" and "_include" in params:
            entries += [
                {"resource": r, "search": {"mode": "include"}} for r in store.includes(chunk)
            ]
        links = [{"relation": "self", "url": str(request.url)}]
        if page * count < len(found):
            query = [(k, v) for k, vs in params.items() if k != "_page" for v in vs]
            next_url = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
            links.append(
                {
                    "relation": "next",
                    "url": f"{next_url}?{urlencode([*query, ('_page', page + 1)])}",
                }
            )
        return JSONResponse(
            {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(found),
                "link": links,
                "entry": entries,
            }
        )

    return Starlette(routes=[Route("/fhir/{kind}", search)])
