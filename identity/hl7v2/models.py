"""MLLP senders mapped to API keys in the database, besides those of the settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from referentials.core.db import Base, UTCDateTime, utcnow


class Hl7Sender(Base):
    """One sender the MLLP listener applies messages as ``key_id``: added and removed while the
    listener runs (``socle hl7-sender``), read on each message."""

    __tablename__ = "hl7_senders"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_hl7_senders"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "cert": a client certificate's SHA-256 fingerprint (lower-case hex); "cn": its subject's
    # common name; "facility": an MSH-4 sending facility (plain TCP on loopback only).
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
