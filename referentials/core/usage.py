"""Per-client API usage by day and area, for the e-parcours usage indicators."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String, UniqueConstraint, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from referentials.core.db import Base, utcnow
from referentials.core.principal import Principal


class ApiUsage(Base):
    """How many calls one key made to one area (identity, directory, ror...) on one day."""

    __tablename__ = "api_usage"
    __table_args__ = (UniqueConstraint("day", "key_id", "area", name="uq_api_usage_day_key_area"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    key_id: Mapped[int] = mapped_column(Integer)
    finess: Mapped[str | None] = mapped_column(String(9), index=True)
    area: Mapped[str] = mapped_column(String(20))
    calls: Mapped[int] = mapped_column(Integer, default=0)


def record_call(session: Session, principal: Principal, area: str) -> None:
    """Count one call; an upsert, so concurrent requests of one key never collide."""
    if principal.key_id is None:
        return
    values = {
        "day": utcnow().date(),
        "key_id": principal.key_id,
        "finess": principal.finess,
        "area": area,
        "calls": 1,
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = pg_insert(ApiUsage).values(**values)
        session.execute(
            stmt.on_conflict_do_update(
                constraint="uq_api_usage_day_key_area",
                set_={"calls": ApiUsage.calls + 1},
            )
        )
    elif dialect == "sqlite":
        lite = sqlite_insert(ApiUsage).values(**values)
        session.execute(
            lite.on_conflict_do_update(
                index_elements=["day", "key_id", "area"], set_={"calls": ApiUsage.calls + 1}
            )
        )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        session.execute(update(ApiUsage).values(calls=ApiUsage.calls + 1))


def finess_active(session: Session, start: date, end: date, area: str = "identity") -> set[str]:
    """FINESS numbers of the clients whose keys called ``area`` between start and end."""
    stmt = (
        select(ApiUsage.finess)
        .where(
            ApiUsage.day >= start,
            ApiUsage.day <= end,
            ApiUsage.area == area,
            ApiUsage.finess.is_not(None),
        )
        .distinct()
    )
    return {f for f in session.scalars(stmt) if f}
