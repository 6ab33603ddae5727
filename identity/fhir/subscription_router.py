"""FHIR R4 Subscription routes under /fhir: create, read, search, update, delete (rest-hook
only).

Scope ``admin``, like the subscriptions API: a subscription makes Socle push identities to an
endpoint of the caller's choosing. Each one is a notification subscription of channel ``fhir``
of the caller's client (what that client may see of identities applies to what it receives).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from identity.fhir.subscription import CHANNEL, to_create, to_resource, to_update
from identity.fhir.systems import LocalIdSystems
from referentials.core.auth import DbSession, Principal, require
from referentials.core.db import utcnow
from referentials.core.errors import NotFound
from referentials.core.fhir import (
    FhirBadRequest,
    FhirResponse,
    base_url,
    entry,
    parse_count,
    parse_offset,
    searchset,
)
from referentials.core.notify import registry
from referentials.core.notify import service as notify_service
from referentials.core.notify.channels import ChannelConfigError
from referentials.core.notify.models import Subscription

router = APIRouter(prefix="/fhir", tags=["fhir"], default_response_class=FhirResponse)
admin = require("admin")
SEARCH_PARAMS = ("_id", "status", "url", "_count", "_offset")
# The channel's config fields as the Subscription names them.
FHIR_PATHS = {
    "config.endpoint": "channel.endpoint",
    "config.payload": "channel.payload",
    "config.headers": "channel.header",
}


def _base(request: Request) -> str:
    # The deployment's own namespace (its extension's URL), as for its local-id systems.
    base: str = request.app.state.settings.base_url
    return base


def _get(session: DbSession, subscription_id: str) -> Subscription:
    sub = None
    if subscription_id.isdigit():
        sub = notify_service.get(session, int(subscription_id))
    if sub is None or sub.channel != CHANNEL:
        raise NotFound(f"Subscription/{subscription_id} is not known")
    return sub


def _check_channel(config: dict[str, Any]) -> None:
    try:
        registry.channel(CHANNEL).validate(config)
    except ChannelConfigError as exc:
        where = FHIR_PATHS.get(exc.field_name, exc.field_name)
        raise FhirBadRequest(f"{where}: {exc.message}", fields={where: exc.message}) from exc


@router.post("/Subscription", status_code=201)
def create_subscription(
    *,
    request: Request,
    resource: dict[str, Any] = Body(..., media_type="application/fhir+json"),
    session: DbSession,
    principal: Principal = Depends(admin),
) -> FhirResponse:
    """A rest-hook Subscription on Patient changes (criteria: see the CapabilityStatement)."""
    local = LocalIdSystems.from_settings(request.app.state.settings)
    data = to_create(resource, client_name=principal.client_name, local=local)
    _check_channel(data.config)
    sub, _secret = notify_service.create(session, principal, data=data)
    body = to_resource(sub, utcnow(), _base(request))
    location = f"{base_url(request)}/Subscription/{sub.id}"
    return FhirResponse(body, status_code=201, headers={"Location": location})


@router.get("/Subscription")
def search_subscriptions(
    *, request: Request, session: DbSession, principal: Principal = Depends(admin)
) -> FhirResponse:
    """Every FHIR subscription, narrowed by _id, status or url (the channel endpoint)."""
    params = request.query_params
    unknown = sorted(set(params) - set(SEARCH_PARAMS))
    if unknown:
        raise FhirBadRequest(
            f"unsupported search parameter(s): {', '.join(unknown)}; "
            f"supported: {', '.join(SEARCH_PARAMS)}",
            fields={"parameter": unknown[0]},
        )
    count, offset = parse_count(params.get("_count")), parse_offset(params.get("_offset"))
    now, base = utcnow(), _base(request)
    found = [
        to_resource(s, now, base) for s in notify_service.list_(session) if s.channel == CHANNEL
    ]
    for name, key in (("_id", "id"), ("status", "status")):
        if name in params:
            found = [r for r in found if r[key] in params[name].split(",")]
    if "url" in params:
        found = [r for r in found if r["channel"]["endpoint"] == params["url"]]
    entries = [entry(request, r) for r in found[offset : offset + count]]
    return FhirResponse(searchset(request, entries, total=len(found), offset=offset, count=count))


@router.get("/Subscription/{subscription_id}")
def read_subscription(
    *,
    subscription_id: str,
    request: Request,
    session: DbSession,
    principal: Principal = Depends(admin),
) -> FhirResponse:
    """One Subscription with its delivery status (active, off, error)."""
    sub = _get(session, subscription_id)
    return FhirResponse(to_resource(sub, utcnow(), _base(request)))


@router.put("/Subscription/{subscription_id}")
def update_subscription(
    *,
    subscription_id: str,
    request: Request,
    resource: dict[str, Any] = Body(..., media_type="application/fhir+json"),
    session: DbSession,
    principal: Principal = Depends(admin),
) -> FhirResponse:
    """Replace a Subscription (its id in the body too); it stays its client's. No create."""
    sub = _get(session, subscription_id)
    local = LocalIdSystems.from_settings(request.app.state.settings)
    data = to_update(resource, sub.id, client_name=sub.client_name, local=local)
    _check_channel(data.config or {})
    sub = notify_service.update(session, principal, sub.id, data=data)
    return FhirResponse(to_resource(sub, utcnow(), _base(request)))


@router.delete("/Subscription/{subscription_id}", status_code=204)
def delete_subscription(
    *, subscription_id: str, session: DbSession, principal: Principal = Depends(admin)
) -> Response:
    """Delete a Subscription: nothing more is sent to its endpoint."""
    sub = _get(session, subscription_id)
    notify_service.delete(session, principal, sub.id)
    return Response(status_code=204)
