"""The Bundle a FHIR rest-hook subscription receives for one identity event, shaped as the
Subscriptions R4 Backport IG's event notification: a ``history`` Bundle whose first entry is the
``SubscriptionStatus`` Parameters (the subscription, its event count, this event's number,
time and focus), then the Patient(s) concerned in FR Core shapes, as Socle holds them when the
Bundle is built.

- merge: the survivor (``focus``, ``link`` ``replaces``) and the absorbed identity (inactive,
  ``link`` ``replaced-by`` the survivor);
- unmerge: the restored identity (``focus``, active again, its local ids back) and the survivor;
- link or unlink of two local ids (PAM France A24/A37): the identity of the first local id
  (``focus``) and, when another identity holds the second, that one (``link`` ``seealso`` each
  other while linked);
- any other event: the identity.

A subscription narrowed to some establishments gets only their local ids in
``Patient.identifier``: it is not told which other establishments know the patient.

The event's key (``identity-<cursor>``) is ``Bundle.identifier``, the same on every resend; its
type (``identity.merged``...) is a ``meta.tag``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from identity.fhir import repository
from identity.fhir.patient import to_patient
from identity.fhir.systems import LocalIdSystems
from identity.referential import links, service
from identity.referential.models import Identity

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport"
PROFILE_NOTIFICATION = f"{BACKPORT}/StructureDefinition/backport-subscription-notification-r4"
PROFILE_STATUS = f"{BACKPORT}/StructureDefinition/backport-subscription-status-r4"
TOPIC = "/SubscriptionTopic/patient-identity"
EVENT_CODES = "/CodeSystem/notification-event"
NOTIFICATION_IDS = "/sid/notification"


def _instant(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def concerned(
    session: Session, kind: str, identity_id: int, payload: Mapping[str, Any]
) -> list[Identity]:
    """The identities a notification carries, the focus first."""
    if kind == "identity.merged":
        survivor = int(payload.get("survivor_id", identity_id))
        return [service.get(session, survivor), service.get(session, int(payload["loser_id"]))]
    if kind == "identity.unmerged":
        restored = int(payload.get("loser_id", identity_id))
        return [service.get(session, restored), service.get(session, int(payload["survivor_id"]))]
    if kind in links.EVENTS.values():
        first, second = links.holders(session, identity_id, payload)
        return [service.get(session, i) for i in dict.fromkeys((first, second))]
    return [service.get(session, identity_id)]


def _narrowed(
    patient: dict[str, Any], local: LocalIdSystems, establishments: frozenset[str]
) -> dict[str, Any]:
    """Only the local ids of the subscription's establishments (the INS and others stay)."""
    if not establishments or "identifier" not in patient:
        return patient
    kept = [
        i for i in patient["identifier"] if local.finess_for(i["system"]) in (None, *establishments)
    ]
    out = {k: v for k, v in patient.items() if k != "identifier"}
    if kept:
        out = {**out, "identifier": kept}
    return out


def _status(
    base: str, subscription_id: int, number: int, at: datetime, refs: list[str]
) -> dict[str, Any]:
    event: list[dict[str, Any]] = [
        {"name": "event-number", "valueString": str(number)},
        {"name": "timestamp", "valueInstant": _instant(at)},
        {"name": "focus", "valueReference": {"reference": refs[0]}},
    ]
    event += [{"name": "additional-context", "valueReference": {"reference": r}} for r in refs[1:]]
    return {
        "resourceType": "Parameters",
        "meta": {"profile": [PROFILE_STATUS]},
        "parameter": [
            {
                "name": "subscription",
                "valueReference": {"reference": f"{base}/Subscription/{subscription_id}"},
            },
            {"name": "topic", "valueCanonical": base + TOPIC},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": "event-notification"},
            {"name": "events-since-subscription-start", "valueString": str(number)},
            {"name": "notification-event", "part": event},
        ],
    }


def bundle(
    session: Session,
    *,
    kind: str,
    identity_id: int,
    payload: Mapping[str, Any],
    at: datetime,
    key: str,
    subscription_id: int,
    cursor: int,
    base: str,
    local: LocalIdSystems,
    establishments: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The notification Bundle of one event for one subscription (``base``: Socle's /fhir)."""
    identities = concerned(session, kind, identity_id, payload)
    found = repository.patient_links(session, [i.id for i in identities])
    patients = [
        _narrowed(to_patient(i, local, links_to=found.get(i.id, [])), local, establishments)
        for i in identities
    ]
    number = repository.events_until(session, subscription_id, "identity", cursor)
    refs = [f"{base}/Patient/{p['id']}" for p in patients]
    status_entry = {
        "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{base}/{subscription_id}/{key}')}",
        "resource": _status(base, subscription_id, number, at, refs),
        "request": {"method": "GET", "url": f"Subscription/{subscription_id}/$status"},
        "response": {"status": "200"},
    }
    entries = [
        {
            "fullUrl": ref,
            "resource": patient,
            "request": {"method": "PUT", "url": f"Patient/{patient['id']}"},
            "response": {"status": "200"},
        }
        for ref, patient in zip(refs, patients, strict=True)
    ]
    return {
        "resourceType": "Bundle",
        "meta": {
            "profile": [PROFILE_NOTIFICATION],
            "tag": [{"system": base + EVENT_CODES, "code": kind}],
        },
        "identifier": {"system": base + NOTIFICATION_IDS, "value": key},
        "type": "history",
        "timestamp": _instant(datetime.now(UTC)),
        "entry": [status_entry, *entries],
    }
