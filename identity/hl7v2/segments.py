"""Segments of the ADT messages Socle sends (IHE PAM France 2.11, HL7 v2.5), built from a stored
identity: MSH, EVN, PID, MRG, PV1. ER7 with the default delimiters, every value escaped.

PID-3 lists every id the identity is known by, as an IHE PIX update notification does, so that
each receiver finds its own: Socle's id (its own assigning authority), each establishment's
local id (``PI``, the authority its software uses when ``SOCLE_HL7__AUTHORITIES`` names one,
else the FINESS), and the INS only for a ``QUAL`` identity, with PID-32 ``VALI`` (PAM France:
an INS travels only when qualified). RNIV status -> PID-32: ``PROV`` and ``RECUP`` -> ``PROV``,
``VALI`` -> ``VALI`` without INS, ``QUAL`` -> ``VALI`` with the INS; then the RNIV attributes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from identity.hl7v2 import pam
from identity.hl7v2.ack import escape
from identity.referential import rules
from identity.referential.models import Identity

INS_NAMESPACES = {
    rules.OID_INS_NIR: "ASIP-SANTE-INS-NIR",
    rules.OID_INS_NIA: "ASIP-SANTE-INS-NIA",
    rules.OID_INS_NIR_TEST: "ASIP-SANTE-INS-NIR-TEST",
    rules.OID_INS_NIR_DEMO: "ASIP-SANTE-INS-NIR-DEMO",
}
PID32 = {"PROV": "PROV", "RECUP": "PROV", "VALI": "VALI", "QUAL": "VALI"}
_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


@dataclass(frozen=True)
class LocalId:
    """One establishment's local id (IPP)."""

    finess: str
    local_id: str


@dataclass(frozen=True)
class Parties:
    """Who sends and who receives: MSH-3..6, MSH-11, and the assigning authorities of PID-3."""

    sending_application: str = "SOCLE"
    sending_facility: str = "SOCLE"
    receiving_application: str = ""
    receiving_facility: str = ""
    processing_id: str = "P"
    # Socle's own ids in PID-3/MRG-1: CX-4 namespace and, when the region has one, its OID.
    authority: str = "SOCLE"
    authority_oid: str = ""
    # SOCLE_HL7__AUTHORITIES: an establishment's id authority (namespace or OID) -> FINESS.
    authorities: dict[str, str] = field(default_factory=dict)
    # Only these establishments' local ids are sent (a subscription narrowed to them: the
    # receiver is not told which other establishments know the patient); empty: all.
    establishments: frozenset[str] = frozenset()

    def shows(self, local: LocalId) -> bool:
        return not self.establishments or local.finess in self.establishments


def _ts(value: datetime) -> str:
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def msh(parties: Parties, *, event: str, structure: str, control_id: str, at: datetime) -> str:
    """MSH in original acknowledgment mode (MSH-15/16 empty: one ACK, AA/AE/AR)."""
    fields = [
        "MSH",
        "^~\\&",
        escape(parties.sending_application),
        escape(parties.sending_facility),
        escape(parties.receiving_application),
        escape(parties.receiving_facility),
        _ts(at),
        "",
        f"ADT^{event}^{structure}",
        escape(control_id),
        parties.processing_id,
        pam.DEFAULT_VERSION,
        *([""] * 4),
        "FRA",
        "UNICODE UTF-8",
        "FR",
        "",
        pam.DEFAULT_PROFILE,
    ]
    return "|".join(fields)


def evn(at: datetime) -> str:
    return f"EVN||{_ts(at)}"


def pv1() -> str:
    """ITI-30 messages carry no stay: PV1-2 ``N`` (not applicable)."""
    return "PV1||N"


def _hd(namespace: str, universal: str, kind: str) -> str:
    return f"{escape(namespace)}&{escape(universal)}&{kind}"


def socle_cx(identity_id: int, parties: Parties) -> str:
    if parties.authority_oid:
        hd = f"{escape(parties.authority)}&{escape(parties.authority_oid)}&ISO"
    else:
        hd = escape(parties.authority)
    return f"{identity_id}^^^{hd}^PI"


def local_cx(local: LocalId, parties: Parties) -> str:
    """The local id under the authority its establishment uses (an OID mapped to it first)."""
    names = sorted(k for k, v in parties.authorities.items() if v == local.finess)
    oids = [k for k in names if _OID.fullmatch(k)]
    namespace = next((k for k in names if not _OID.fullmatch(k)), "")
    hd = _hd(namespace, oids[0], "ISO") if oids else _hd(namespace, local.finess, "N")
    return f"{escape(local.local_id)}^^^{hd}^PI"


def ins_cx(identity: Identity) -> str | None:
    """The INS of a QUAL identity (PAM France: only when qualified), else None."""
    if identity.status != "QUAL" or not identity.ins_matricule or not identity.ins_oid:
        return None
    namespace = INS_NAMESPACES.get(identity.ins_oid, "")
    return f"{identity.ins_matricule}^^^{namespace}&{identity.ins_oid}&ISO^INS"


def local_ids(identity: Identity) -> list[LocalId]:
    return [LocalId(s.finess, s.local_id) for s in identity.sources]


def _names(identity: Identity) -> str:
    birth = (
        f"{escape(identity.birth_name)}^{escape(identity.first_name)}"
        f"^{escape(identity.first_names)}^^^^L"
    )
    if not (identity.used_name or identity.used_first_name):
        return birth
    used = f"{escape(identity.used_name or '')}^{escape(identity.used_first_name or '')}^^^^^D"
    return f"{birth}~{used}"


def pid(
    identity: Identity, parties: Parties, *, leave_out: Iterable[LocalId] = (), set_id: int = 1
) -> str:
    """PID of an identity as Socle holds it; ``leave_out``: local ids that go in MRG-1;
    ``set_id`` (PID-1): 2 for the second patient of a link (ADT_A24, ADT_A37)."""
    left = set(leave_out)
    ids = [socle_cx(identity.id, parties)]
    shown = [x for x in local_ids(identity) if x not in left and parties.shows(x)]
    ids += [local_cx(x, parties) for x in shown]
    ins = ins_cx(identity)
    if ins:
        ids.append(ins)
    fields = [""] * 33
    fields[0], fields[1], fields[3] = "PID", str(set_id), "~".join(ids)
    fields[5] = _names(identity)
    fields[7] = identity.birth_date.strftime("%Y%m%d")
    fields[8] = identity.sex if identity.sex in ("M", "F") else "U"
    if identity.birth_place_code:
        fields[11] = f"^^^^^^BDL^^{escape(identity.birth_place_code)}"
    fields[32] = "~".join([PID32.get(identity.status, "PROV"), *sorted(identity.attribute_set)])
    return "|".join(fields)


def mrg(identity_id: int | None, moved: Iterable[LocalId], parties: Parties) -> str:
    """MRG-1: the ids that cease: an absorbed identity's (Socle's id, and the local ids it
    brought), or a renumbered local id (``identity_id`` None)."""
    ids = [socle_cx(identity_id, parties)] if identity_id is not None else []
    ids += [local_cx(x, parties) for x in moved if parties.shows(x)]
    return f"MRG|{'~'.join(ids)}"
