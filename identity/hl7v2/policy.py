"""The rules Socle applies to what a hospital sends: which establishment a local id belongs
to, and when an INS received over HL7 may be trusted.

**Establishment (FINESS).** The local id is the PID-3 repetition that is not an INS. Its
establishment is the first of these that resolves: the assigning authority of the id (CX-4
namespace, then universal id/OID), its assigning facility (CX-6), then the sending facility
(MSH-4 namespace, then universal id). A value resolves when ``SOCLE_HL7__AUTHORITIES`` maps
it to a FINESS, or when it is itself a FINESS (9 characters, e.g. ``690999016``).

**INS.** PAM France ``PID-32`` (table 0445, §6.6.15) carries the identity status in its first
repetition: ``VALI`` with an INS in PID-3 means "INS qualified" (PAM France has no ``QUAL``);
an INS sent without ``VALI`` is dropped with a warning, the message is integrated without it.
An INS is *trusted* when its key is valid and the sender declares it qualified. A trusted INS
is used to *identify*: a new local id joins the active QUAL identity that already carries that
INS with the same strict traits. It is never stored as the identity's INS and never raises a
status: only Socle's own INSi call and document check do (RNIV).
"""

from __future__ import annotations

from dataclasses import dataclass

from identity.hl7v2.message import Adt, Cx, Hl7Problem
from identity.referential import rules
from referentials.core.finess import is_finess
from referentials.core.settings import Hl7Settings


def _resolve(value: str, settings: Hl7Settings) -> str | None:
    if value in settings.authorities:
        return settings.authorities[value]
    return value if is_finess(value) else None


def establishment(adt: Adt, local: Cx, settings: Hl7Settings) -> str:
    """The FINESS a local id belongs to; AR when nothing maps to one."""
    for candidate in (*local.authority_ids, *adt.header.facility_ids):
        finess = _resolve(candidate, settings)
        if finess:
            return finess
    raise Hl7Problem(
        "AR",
        "103",
        "the assigning authority (PID-3.4) and the sending facility (MSH-4) map to no FINESS: "
        "configure SOCLE_HL7__AUTHORITIES",
        "PID^1^3",
    )


def _chosen(ids: list[Cx]) -> Cx:
    """The PI repetition of a list of ids, else the first one."""
    return next((c for c in ids if c.type_code == "PI"), ids[0])


def local_id(adt: Adt, settings: Hl7Settings) -> tuple[str, str]:
    """(FINESS, local id) of the patient: the PI repetition of PID-3, else the first one."""
    if not adt.local_ids:
        raise Hl7Problem("AE", "101", "PID-3 carries no local patient id", "PID^1^3")
    chosen = _chosen(adt.local_ids)
    return establishment(adt, chosen, settings), chosen.value


def _other_id(
    adt: Adt,
    ids: list[Cx],
    finess: str,
    settings: Hl7Settings,
    *,
    named: str,
    where: str,
    across: str,
) -> str:
    """The local id of ``ids`` (MRG-1, the second PID-3), in the establishment ``finess``."""
    if not ids:
        raise Hl7Problem("AE", "101", f"{named} carries no local patient id", where)
    chosen = _chosen(ids)
    if establishment(adt, chosen, settings) != finess:
        raise Hl7Problem("AE", "103", across, where)
    return chosen.value


def merged_id(adt: Adt, finess: str, settings: Hl7Settings) -> str:
    """MRG-1: the merged (A40) or former (A47) local id, in the same establishment."""
    across = "MRG-1 and PID-3 belong to two establishments"
    return _other_id(
        adt, adt.merged_ids, finess, settings, named="MRG-1", where="MRG^1^1", across=across
    )


def linked_id(adt: Adt, finess: str, settings: Hl7Settings) -> str:
    """A24/A37: the local id of the second PID, in the same establishment as the first's."""
    across = "the two PID-3 belong to two establishments: links stay within one"
    return _other_id(
        adt,
        adt.linked_ids,
        finess,
        settings,
        named="the second PID-3",
        where="PID^2^3",
        across=across,
    )


@dataclass(frozen=True)
class InsVerdict:
    matricule: str | None
    oid: str | None
    warning: str | None


def declared_qualified(adt: Adt) -> bool:
    """PAM France: PID-32 ``VALI`` and an INS in PID-3 = a qualified identity."""
    return adt.status_code == "VALI" and adt.ins is not None


def ins_verdict(adt: Adt) -> InsVerdict:
    """The INS to identify with, or why the received one is ignored."""
    if adt.ins is None:
        return InsVerdict(None, None, None)
    value = adt.ins.value.strip().upper().replace(" ", "")
    oid = next((a for a in adt.ins.authority_ids if a in rules.INS_OIDS), None)
    if not rules.nir_key_is_valid(value):
        return InsVerdict(None, None, "PID-3: the INS key does not match: INS ignored")
    if rules.forbids_insi(frozenset(adt.attribute_codes)):
        # A doubtful or fictitious identity never carries an INS (RNIV): no twin either.
        return InsVerdict(None, None, "PID-3: INS ignored: PID-32 declares DOUT or FICT")
    if not declared_qualified(adt):
        return InsVerdict(
            None, None, "PID-3: INS dropped: PID-32 is not VALI (PAM France: INS only if qualified)"
        )
    return InsVerdict(value, oid, None)
