"""MLLP senders mapped to API keys in the database: added or removed while the listener runs.

The settings' maps (``SOCLE_HL7__CERT_KEYS``, ``SOCLE_HL7__FACILITY_KEYS``) need a restart of
the listener to change; a region adds its establishments' interface engines one by one, so the
same mappings can also be stored (``socle hl7-sender``), and the listener reads them for each
message. The settings are read first: a sender mapped in both is applied as the settings say.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.hl7v2.models import Hl7Sender
from referentials.core import audit
from referentials.core.errors import Conflict, NotFound, ValidationFailed
from referentials.core.principal import Principal
from referentials.core.senders import principal_for_key
from referentials.core.settings import Hl7Settings

KINDS = ("cert", "cn", "facility")
# What a sender's key needs (the listener refuses the messages of a key without it).
WRITE_SCOPE = "identity:write"
ENTITY = "hl7_sender"
_HEX = re.compile(r"[0-9a-f]{64}")


def fingerprint(value: str) -> str:
    """A SHA-256 fingerprint as operators copy it (``sha256:AB:CD:…``, with or without colons,
    any case) as lower-case hex; ValidationFailed when it is not one."""
    digits = value.strip().lower().removeprefix("sha256:").replace(":", "")
    if not _HEX.fullmatch(digits):
        raise ValidationFailed(
            "a certificate fingerprint is 32 bytes of hex (openssl x509 -noout -fingerprint "
            "-sha256)",
            fields={"cert": value},
        )
    return digits


def _value(kind: str, value: str) -> str:
    if kind not in KINDS:
        raise ValidationFailed(f"kind is one of {', '.join(KINDS)}", fields={"kind": kind})
    if kind == "cert":
        return fingerprint(value)
    stripped = value.strip()
    if not 0 < len(stripped) <= 200:
        raise ValidationFailed(f"a {kind} is 1 to 200 characters", fields={kind: value})
    return stripped


def add(session: Session, principal: Principal, kind: str, value: str, key_id: int) -> Hl7Sender:
    """Map a sender to a key (audited); the key must exist, be valid and may write identities."""
    stored = _value(kind, value)
    # The key as the listener will take it (unknown, revoked or expired: refused the same way).
    if not principal_for_key(session, key_id).has(WRITE_SCOPE):
        raise ValidationFailed(
            f"API key {key_id} lacks the scope '{WRITE_SCOPE}': its messages would all get AR",
            fields={"key": key_id},
        )
    taken = session.scalar(
        select(Hl7Sender).where(Hl7Sender.kind == kind, Hl7Sender.value == stored)
    )
    if taken is not None:
        raise Conflict(
            f"this {kind} is already mapped (sender {taken.id}, key {taken.key_id}): remove it "
            "first",
            fields={"sender": taken.id},
        )
    sender = Hl7Sender(kind=kind, value=stored, key_id=key_id)
    session.add(sender)
    session.flush()
    after = {"kind": kind, "value": stored, "key_id": key_id}
    audit.record(
        session, principal, entity_type=ENTITY, entity_id=sender.id, action="create", after=after
    )
    return sender


def remove(session: Session, principal: Principal, sender_id: int) -> Hl7Sender:
    """Unmap a sender (audited): its next message gets AR."""
    sender = session.get(Hl7Sender, sender_id)
    if sender is None:
        raise NotFound(f"no MLLP sender {sender_id}", fields={"sender": sender_id})
    before = {"kind": sender.kind, "value": sender.value, "key_id": sender.key_id}
    session.delete(sender)
    audit.record(
        session, principal, entity_type=ENTITY, entity_id=sender_id, action="delete", before=before
    )
    return sender


def every(session: Session) -> list[Hl7Sender]:
    """Every stored sender, oldest first."""
    return list(session.scalars(select(Hl7Sender).order_by(Hl7Sender.id)))


def configured(settings: Hl7Settings) -> dict[int, list[str]]:
    """The MLLP senders of the settings' maps, by the key they are applied as."""
    found: dict[int, list[str]] = {}
    for name, key_id in settings.cert_keys.items():
        found.setdefault(key_id, []).append(f"{name} (SOCLE_HL7__CERT_KEYS)")
    for name, key_id in settings.facility_keys.items():
        found.setdefault(key_id, []).append(f"facility {name} (SOCLE_HL7__FACILITY_KEYS)")
    return found


def by_key(session: Session, settings: Hl7Settings) -> dict[int, list[str]]:
    """The MLLP senders applied as each key, from the settings' maps and the stored ones, as
    operators name them (``facility CHFM (SOCLE_HL7__FACILITY_KEYS)``, ``sender 3: cn ...``)."""
    found = configured(settings)
    for sender in every(session):
        found.setdefault(sender.key_id, []).append(_named(sender))
    return found


def _named(sender: Hl7Sender) -> str:
    return f"sender {sender.id}: {sender.kind} {sender.value}"


def move(session: Session, principal: Principal, from_key: int, to_key: int) -> list[str]:
    """Apply the stored senders of one key as another (its replacement), audited; their names.

    The settings' maps are the operator's to change (and need a restart of the listener)."""
    moved = list(session.scalars(select(Hl7Sender).where(Hl7Sender.key_id == from_key)))
    for sender in moved:
        sender.key_id = to_key
        audit.record(
            session,
            principal,
            entity_type=ENTITY,
            entity_id=sender.id,
            action="update",
            before={"key_id": from_key},
            after={"key_id": to_key},
        )
    session.flush()
    return [_named(sender) for sender in moved]


def key_for(session: Session, candidates: list[tuple[str, str]]) -> int | None:
    """The key of the first (kind, value) of ``candidates`` that is stored, in their order."""
    if not candidates:
        return None
    kinds = {kind for kind, _ in candidates}
    values = {value for _, value in candidates}
    rows = session.execute(
        select(Hl7Sender.kind, Hl7Sender.value, Hl7Sender.key_id).where(
            Hl7Sender.kind.in_(kinds), Hl7Sender.value.in_(values)
        )
    )
    found = {(kind, value): key_id for kind, value, key_id in rows}
    return next((found[c] for c in candidates if c in found), None)
