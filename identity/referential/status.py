"""RNIV status transitions: the cross of "recovered from INSi" and "checked on a document".

A status reflects checks of the *current* strict traits: when one changes, each check is of the
old traits and is cleared, unless the change comes with the document that checked the new ones.
"""

from __future__ import annotations

from datetime import date

from identity.errors import RuleConflict
from identity.referential import rules
from identity.referential.models import Identity
from identity.referential.schemas import StatusChange
from referentials.core.db import utcnow


def clear_ins(identity: Identity, reason: str) -> None:
    if identity.ins_matricule:
        old = list(identity.ins_old or [])
        old.append(
            {
                "matricule": identity.ins_matricule,
                "oid": identity.ins_oid,
                "reason": reason,
                "at": utcnow().isoformat(),
            }
        )
        identity.ins_old = old
    identity.ins_matricule = None
    identity.ins_oid = None
    identity.ins_history = None
    identity.ins_retrieved_at = None
    identity.ins_collection_method = None


def recompute_status(identity: Identity, reason: str) -> StatusChange | None:
    before = identity.status
    after = rules.status_for(
        has_ins=bool(identity.ins_matricule), validated=bool(identity.validation_document)
    )
    identity.status = after
    return StatusChange(before=before, after=after, reason=reason) if before != after else None


def after_strict_change(
    identity: Identity, changed: list[str], document: str | None, validated_at: date | None
) -> StatusChange | None:
    """RNIV: the INS and the document check were of the old traits; a document given with the
    change is the check of the new ones."""
    reason = f"strict trait(s) changed: {', '.join(changed)}"
    if identity.ins_matricule:
        clear_ins(identity, reason)
        reason += "; INS cleared"
    if document is not None:
        set_validation(identity, document, validated_at)
        reason += f"; checked on a document ({document})"
    elif identity.validation_document:
        identity.validation_document = None
        identity.validation_date = None
        reason += "; document validation cleared"
    return recompute_status(identity, reason)


def document_of(identity: Identity, document_type: str) -> str:
    document = rules.check_document(document_type)
    if rules.forbids_insi(identity.attribute_set):
        raise RuleConflict(
            "a DOUT or FICT identity stays PROV: remove the attribute before validating",
            fields={"attributes": sorted(identity.attribute_set)},
        )
    return document


def set_validation(identity: Identity, document: str, validated_at: date | None) -> None:
    when = validated_at or date.today()
    if when > date.today():
        raise rules.TraitError("validated_at", "validated_at is in the future")
    identity.validation_document = document
    identity.validation_date = when
