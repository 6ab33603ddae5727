"""FHIR R4 ``Subscription`` (rest-hook) <-> a notification subscription of channel ``fhir``.

Criteria Socle understands (anything else is refused with an OperationOutcome naming it):

- ``Patient`` or ``Patient?``: every identity event;
- ``event=<types>``: some of them, comma-separated: ``created``, ``updated``,
  ``status_changed``, ``merged``, ``unmerged``, ``local_id_attached``, ``local_id_changed``,
  ``local_ids_linked``, ``local_ids_unlinked`` (``identity.`` prefix optional);
- ``identifier=<local-id system>|`` (comma-separated, or repeated): only the patients holding a
  local id of these establishments (the local-id systems of ``Patient.identifier``).

Extension ``<base_url>/fhir/StructureDefinition/subscription-skip-changes-by`` (``valueString``,
repeated, in a namespace this deployment owns): the clients whose changes are not sent, as
``skip_changes_by`` of the subscriptions API (no echo of the receiver's own changes).

The status a client sends is ``requested`` (or ``active``, or ``off`` for a paused one); Socle
stores the subscription active at once: it does not call the endpoint while the request's
transaction is open. It reads back ``active``, ``off`` when paused, ``error`` while deliveries
fail and the circuit breaker is open (``error`` then says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import ValidationError

from identity.fhir.systems import LocalIdSystems
from referentials.core.fhir import FHIR_JSON, FhirBadRequest
from referentials.core.notify.models import Subscription
from referentials.core.notify.schemas import SubscriptionCreate, SubscriptionUpdate

EVENTS = (
    "created",
    "updated",
    "status_changed",
    "merged",
    "unmerged",
    "local_id_attached",
    "local_id_changed",
    "local_ids_linked",
    "local_ids_unlinked",
)
EVENT_TYPES = tuple(f"identity.{e}" for e in EVENTS)
CHANNEL = "fhir"
SKIP_PATH = "/fhir/StructureDefinition/subscription-skip-changes-by"
# What a posted Subscription may carry; anything else (end, contact, error, modifier
# extensions, other extensions) is refused rather than silently dropped. The narrative (text)
# is not kept.
_ALLOWED = {
    "resourceType",
    "id",
    "meta",
    "text",
    "status",
    "reason",
    "criteria",
    "channel",
    "extension",
}


def skip_url(base_url: str) -> str:
    """The skip extension's URL in this deployment's namespace (as its local-id systems)."""
    return base_url.rstrip("/") + SKIP_PATH


def _bad(message: str, where: str) -> FhirBadRequest:
    return FhirBadRequest(f"{where}: {message}", fields={where: message})


def _events(value: str) -> list[str]:
    out = []
    for item in (v.strip() for v in value.split(",")):
        name = item.removeprefix("identity.")
        if name not in EVENTS:
            raise _bad(f"unknown event {item!r}; known: {', '.join(EVENTS)}", "criteria")
        out.append(f"identity.{name}")
    return out


def _establishments(value: str, local: LocalIdSystems) -> list[str]:
    out = []
    for item in (v.strip() for v in value.split(",")):
        system, bar, code = item.partition("|")
        if not bar or code:
            raise _bad(
                "identifier takes a local-id system followed by '|' (every patient of that "
                f"establishment); {item!r} is not one",
                "criteria",
            )
        finess = local.finess_for(system)
        if finess is None:
            raise _bad(f"{system!r} is not the local-id system of an establishment", "criteria")
        out.append(finess)
    return out


def parse_criteria(criteria: str, local: LocalIdSystems) -> tuple[list[str], list[str]]:
    """(event types, establishments) of a criteria string; FhirBadRequest saying what is wrong."""
    kind, _, query = criteria.strip().partition("?")
    if kind != "Patient":
        what = kind or "(empty)"
        raise _bad(f"only Patient changes are notified ('Patient?...'), not {what!r}", "criteria")
    events: list[str] = []
    establishments: list[str] = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "event":
            events += _events(value)
        elif name == "identifier":
            establishments += _establishments(value, local)
        else:
            raise _bad(
                f"parameter {name!r} is not supported; supported: event, identifier", "criteria"
            )
    return sorted(set(events or EVENT_TYPES)), sorted(set(establishments))


def _channel(resource: Mapping[str, Any]) -> dict[str, Any]:
    channel = resource.get("channel")
    if not isinstance(channel, dict):
        raise _bad("is required (type rest-hook, endpoint, payload)", "channel")
    if channel.get("type") != "rest-hook":
        raise _bad(f"only rest-hook is supported, not {channel.get('type')!r}", "channel.type")
    headers = channel.get("header", [])
    if not isinstance(headers, list) or not all(isinstance(h, str) for h in headers):
        raise _bad("must be a list of 'Name: value' strings", "channel.header")
    return {
        "endpoint": channel.get("endpoint", ""),
        "payload": channel.get("payload", ""),
        "headers": headers,
    }


def _skipped(resource: Mapping[str, Any], url: str) -> list[str]:
    """The client names of the skip extensions (every other extension refused)."""
    extensions = resource.get("extension", [])
    if not isinstance(extensions, list):
        raise _bad("must be a list of extensions", "extension")
    names = []
    for i, ext in enumerate(extensions):
        where = f"extension[{i}]"
        if not isinstance(ext, dict) or ext.get("url") != url:
            found = ext.get("url") if isinstance(ext, dict) else ext
            raise _bad(f"{found!r} is not supported; supported: {url}", where)
        value = ext.get("valueString")
        if set(ext) != {"url", "valueString"} or not isinstance(value, str) or not value.strip():
            raise _bad("takes one valueString: a client's name", where)
        names.append(value.strip())
    return names


def _status(resource: Mapping[str, Any]) -> Literal["active", "paused"]:
    status = resource.get("status")
    if status in ("requested", "active"):
        return "active"
    if status == "off":
        return "paused"
    raise _bad(f"send requested (or off), not {status!r}", "status")


def to_create(
    resource: Mapping[str, Any], *, client_name: str, local: LocalIdSystems
) -> SubscriptionCreate:
    """The notification subscription a posted Subscription asks for (the channel validates the
    endpoint, headers and payload)."""
    if resource.get("resourceType") != "Subscription":
        raise _bad("the body must be a Subscription resource", "resourceType")
    extra = sorted(set(resource) - _ALLOWED)
    if extra:
        raise _bad(f"not supported: {', '.join(extra)}", extra[0])
    for name in ("reason", "criteria"):
        if not isinstance(resource.get(name), str) or not resource[name].strip():
            raise _bad("is required", name)
    criteria = resource["criteria"].strip()
    event_types, establishments = parse_criteria(criteria, local)
    config = {**_channel(resource), "criteria": criteria, "reason": resource["reason"].strip()}
    skipped = _skipped(resource, skip_url(local.base_url))
    try:
        return SubscriptionCreate(
            client_name=client_name,
            channel=CHANNEL,
            config=config,
            event_types=event_types,
            establishments=establishments,
            skip_changes_by=skipped,
            description=resource["reason"].strip()[:200],
            status=_status(resource),
        )
    except ValidationError as exc:  # the subscription's own bounds (50 skipped clients...)
        error = exc.errors()[0]
        where = "extension" if error["loc"][0] == "skip_changes_by" else str(error["loc"][0])
        raise _bad(error["msg"], where) from exc


def to_update(
    resource: Mapping[str, Any], subscription_id: int, *, client_name: str, local: LocalIdSystems
) -> SubscriptionUpdate:
    """What a Subscription sent to replace the stored one changes: every element, those left
    out included (an update replaces the resource; no extension clears the skipped clients).
    The body's id must be the URL's (FHIR's update rule)."""
    if resource.get("id") != str(subscription_id):
        raise _bad(f'must be "{subscription_id}", the id in the URL', "id")
    wanted = to_create(resource, client_name=client_name, local=local)
    return SubscriptionUpdate(
        config=wanted.config,
        event_types=wanted.event_types,
        establishments=wanted.establishments,
        skip_changes_by=wanted.skip_changes_by,
        description=wanted.description,
        status=wanted.status,
    )


def _instant(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def fhir_status(sub: Subscription, now: datetime) -> str:
    if sub.status == "paused":
        return "off"
    until = sub.breaker_open_until
    if until is not None and (until if until.tzinfo else until.replace(tzinfo=UTC)) > now:
        return "error"
    return "active"


def to_resource(sub: Subscription, now: datetime, base_url: str) -> dict[str, Any]:
    """The Subscription as stored, with its delivery status."""
    config = sub.config
    resource: dict[str, Any] = {
        "resourceType": "Subscription",
        "id": str(sub.id),
        "meta": {"lastUpdated": _instant(sub.updated_at)},
        # In FHIR's element order: after id, meta and text, before the resource's own elements.
        "extension": [
            {"url": skip_url(base_url), "valueString": name} for name in sub.skip_changes_by
        ],
        "status": fhir_status(sub, now),
        "reason": config.get("reason") or sub.description or "-",
        "criteria": config.get("criteria") or "Patient?",
        "channel": {
            "type": "rest-hook",
            "endpoint": config.get("endpoint", ""),
            "payload": config.get("payload") or FHIR_JSON,
        },
    }
    if not resource["extension"]:
        del resource["extension"]
    if config.get("headers"):
        resource["channel"]["header"] = list(config["headers"])
    if resource["status"] == "error" and sub.last_error:
        resource["error"] = sub.last_error
    return resource
