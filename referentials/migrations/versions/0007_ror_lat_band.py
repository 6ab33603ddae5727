"""ror: the spatial index becomes (latitude band, longitude)

Revision ID: 0007_ror_lat_band
Revises: 0006_ror_spatial
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_ror_lat_band"
down_revision: str | Sequence[str] | None = "0006_ror_spatial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {"ror_locations": "ix_ror_locations", "ror_organizations": "ix_ror_organizations"}


def _band() -> str:
    # floor(latitude * 10), as ror_sync.geo.band_of computes it; SQLite's CAST truncates, so the
    # value is shifted above zero first.
    if op.get_bind().dialect.name == "sqlite":
        return "CAST(latitude * 10 + 1000 AS INTEGER) - 1000"
    return "CAST(floor(latitude * 10) AS INTEGER)"


def upgrade() -> None:
    for table, prefix in TABLES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("lat_band", sa.Integer(), nullable=True))
            batch_op.drop_index(f"{prefix}_position")
        op.execute(f"UPDATE {table} SET lat_band = {_band()} WHERE latitude IS NOT NULL")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(f"{prefix}_band", ["lat_band", "longitude"], unique=False)


def downgrade() -> None:
    for table, prefix in TABLES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"{prefix}_band")
            batch_op.create_index(f"{prefix}_position", ["latitude", "longitude"], unique=False)
            batch_op.drop_column("lat_band")
