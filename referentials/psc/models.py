"""Who may do what: roles granted to one professional, or by profession / establishment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from referentials.core.db import Base, UTCDateTime, utcnow


class RoleGrant(Base):
    """Roles of one professional, by national id (IDNPS: '8' + RPPS, or '0' + ADELI...)."""

    __tablename__ = "psc_role_grants"

    national_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    roles: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RoleRule(Base):
    """Roles of every professional with this profession and/or an activity at this FINESS."""

    __tablename__ = "psc_role_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # TRE_G15 profession code (10: médecin, 60: infirmier...); None: any profession.
    profession_code: Mapped[str | None] = mapped_column(String(10))
    # The establishment (site or legal entity FINESS) of one of their activities; None: any.
    finess: Mapped[str | None] = mapped_column(String(9))
    roles: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
