"""What ITI-31 movements, ZFD provenance and the ITI-30 events without a trait change do.

A movement (admission, discharge, their cancellations, Z99...) names its patient by the
sender's local id: Socle finds that identity, or creates a PROV one from the PID when the id
is unknown (unless the establishment always sends A28 first), and never changes the traits of
an identity it found: in France demographics change through A31 only (PAM France §2.2).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from identity.hl7v2.actions import Done, changes, create_identity, missing_attributes
from identity.hl7v2.message import Adt, Hl7Problem
from identity.hl7v2.policy import InsVerdict
from identity.hl7v2.provenance import Zfd
from identity.referential import links, service
from identity.referential.models import Identity
from identity.referential.schemas import SourceRef
from referentials.core.auth import Principal
from referentials.core.db import utcnow


def _differs(identity: Identity, adt: Adt) -> bool:
    """Whether the PID's traits differ from the stored ones (unreadable traits: no opinion)."""
    try:
        changed, _ = changes(identity, adt)
    except Hl7Problem:
        return False
    return bool(changed)


def movement(
    session: Session,
    principal: Principal,
    adt: Adt,
    ref: SourceRef,
    ins: InsVerdict,
    *,
    may_create: bool,
) -> Done:
    """An ITI-31 event: find (or create) the identity of the local id; never update it."""
    event = adt.header.event
    identity = service.find_by_source(session, finess=ref.finess, local_id=ref.local_id)
    if identity is None:
        if not may_create:
            raise Hl7Problem(
                "AE",
                "204",
                "PID-3: local id unknown in this establishment, which sends A28 first",
                "PID^1^3",
            )
        done = create_identity(session, principal, adt, ref, ins)
        done.text = f"{event}: {done.text} from the movement's PID"
        return done
    done = Done(identity.id, f"{event}: identity {identity.id} found")
    if _differs(identity, adt):
        done.warnings.append(
            f"PID traits differ from identity {identity.id}: not changed "
            "(PAM France: demographics change through A31 only)"
        )
    missing = missing_attributes(identity, adt)
    if missing:
        done.warnings.append(
            f"PID-32: {', '.join(missing)} not set on identity {identity.id}: "
            "attributes change through A28/A31 only"
        )
    return done


def linked(session: Session, principal: Principal, adt: Adt, ref: SourceRef, other: str) -> Done:
    """A24/A37: link or unlink two local ids of the establishment (no merge, no trait change)."""
    event = adt.header.event
    first = links.record_of(session, ref.finess, ref.local_id)
    if first is None:
        raise Hl7Problem("AE", "204", "PID-3: local id unknown in this establishment", "PID^1^3")
    second = links.record_of(session, ref.finess, other)
    if second is None:
        raise Hl7Problem(
            "AE", "204", "the second PID-3: local id unknown in this establishment", "PID^2^3"
        )
    if first.id == second.id:
        raise Hl7Problem("AE", "103", "the two PID-3 name the same local id", "PID^2^3")
    ids = f"identities {first.identity_id} and {second.identity_id}"
    reason = f"HL7 ADT^{event} from establishment {ref.finess}"
    if event == "A24":
        done = links.link(
            session, principal, first, second, control_id=adt.header.control_id, reason=reason
        )
        return Done(
            first.identity_id, f"A24: local ids of {ids} {'linked' if done else 'already linked'}"
        )
    done = links.unlink(session, principal, first, second, reason=reason)
    if not done:
        return Done(
            first.identity_id,
            f"A37: local ids of {ids} were not linked",
            ["A37: these local ids were not linked; nothing changed"],
        )
    return Done(first.identity_id, f"A37: local ids of {ids} unlinked")


def ins_change(session: Session, adt: Adt, finess: str, local_id: str) -> Done:
    """A47 on the INS (MRG-1 holds an INS: NIR change or removal, PAM France §4.4)."""
    identity = service.find_by_source(session, finess=finess, local_id=local_id)
    if identity is None:
        raise Hl7Problem("AE", "204", "PID-3: local id unknown in this establishment", "PID^1^3")
    return Done(
        identity.id,
        f"identity {identity.id} found",
        [
            "A47 on the INS: Socle's INS comes from its own INSi call and is kept; "
            "no identity changed"
        ],
    )


def keep_provenance(session: Session, ref: SourceRef, zfd: Zfd) -> None:
    """Store the ZFD provenance on the local id's record; it raises no status."""
    identity = service.find_by_source(session, finess=ref.finess, local_id=ref.local_id)
    if identity is None:
        return
    record = next(
        (s for s in identity.sources if s.finess == ref.finess and s.local_id == ref.local_id),
        None,
    )
    if record is None:
        return
    record.collection_mode = zfd.collection_mode
    record.insi_queried_on = zfd.insi_queried_on
    record.proof = zfd.proof
    record.proof_expiry = zfd.proof_expiry
    record.provenance_at = utcnow()
    session.flush()
