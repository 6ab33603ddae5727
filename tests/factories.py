"""Builders of test data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from identity.referential.models import Identity
from referentials.core.db import session_scope


def identity_body(**overrides: Any) -> dict[str, Any]:
    """A valid creation body (an invented person)."""
    body: dict[str, Any] = {
        "birth_name": "Lefèbvre",
        "first_names": ["Hélène", "Marie"],
        "sex": "F",
        "birth_date": "1980-05-17",
        "birth_place_code": "69123",
    }
    body.update(overrides)
    return body


def give_ins(
    factory: sessionmaker[Session],
    identity_id: int,
    matricule: str = "275126322074974",
    oid: str = "1.2.250.1.213.1.4.8",
) -> None:
    """Mark an identity as recovered from INSi (as the INSi workflow would), for rule tests."""
    with session_scope(factory) as session:
        identity = session.get(Identity, identity_id)
        assert identity is not None
        identity.ins_matricule = matricule
        identity.ins_oid = oid
        identity.ins_retrieved_at = datetime.now(UTC)
        identity.ins_collection_method = "INSI"
        identity.status = "QUAL" if identity.validation_document else "RECUP"
