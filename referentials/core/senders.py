"""Machine senders without a bearer (the MLLP listener): a configured API key id -> Principal.

The key row gives the client, its FINESS and scopes, exactly as for a bearer; a revoked or
expired key is refused the same way.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from referentials.core.auth import ApiKey
from referentials.core.db import utcnow
from referentials.core.errors import Unauthorized
from referentials.core.principal import Principal


def principal_for_key(session: Session, key_id: int) -> Principal:
    """The principal of a stored key, or 401 when it is missing, revoked or expired."""
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked:
        raise Unauthorized(f"API key {key_id} is unknown or revoked")
    if key.expires_at is not None and key.expires_at <= utcnow():
        raise Unauthorized(f"API key {key_id} has expired")
    return Principal(
        key_id=key.id,
        client_name=key.client_name,
        finess=key.finess,
        scopes=frozenset(key.scope_list),
    )
