"""ror: indexed coordinates for the orientation search, EG positions, sync-date indexes, roles

Revision ID: 0006_ror_spatial
Revises: 0004_ror
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0006_ror_spatial"
down_revision: str | Sequence[str] | None = "0004_ror"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ror_practitioner_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("identifier", sa.String(length=64), nullable=True),
        sa.Column("practitioner", sa.String(length=64), nullable=True),
        sa.Column("offer", sa.String(length=64), nullable=True),
        sa.Column("organization", sa.String(length=64), nullable=True),
        sa.Column("profession", sa.String(length=8), nullable=True),
        sa.Column("region", sa.String(length=3), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ror_practitioner_roles")),
        sa.UniqueConstraint("resource_id", name=op.f("uq_ror_practitioner_roles_resource_id")),
    )
    with op.batch_alter_table("ror_practitioner_roles", schema=None) as batch_op:
        for column in ("identifier", "offer", "organization", "last_updated"):
            batch_op.create_index(f"ix_ror_practitioner_roles_{column}", [column], unique=False)
    with op.batch_alter_table("ror_organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch_op.create_index(
            "ix_ror_organizations_position", ["latitude", "longitude"], unique=False
        )
        batch_op.create_index("ix_ror_organizations_part_of", ["part_of"], unique=False)
        batch_op.create_index("ix_ror_organizations_last_updated", ["last_updated"], unique=False)
    with op.batch_alter_table("ror_locations", schema=None) as batch_op:
        batch_op.create_index("ix_ror_locations_position", ["latitude", "longitude"], unique=False)
        batch_op.create_index("ix_ror_locations_last_updated", ["last_updated"], unique=False)
    with op.batch_alter_table("ror_offers", schema=None) as batch_op:
        batch_op.create_index("ix_ror_offers_last_updated", ["last_updated"], unique=False)


def downgrade() -> None:
    op.drop_table("ror_practitioner_roles")
    with op.batch_alter_table("ror_offers", schema=None) as batch_op:
        batch_op.drop_index("ix_ror_offers_last_updated")
    with op.batch_alter_table("ror_locations", schema=None) as batch_op:
        batch_op.drop_index("ix_ror_locations_last_updated")
        batch_op.drop_index("ix_ror_locations_position")
    with op.batch_alter_table("ror_organizations", schema=None) as batch_op:
        batch_op.drop_index("ix_ror_organizations_last_updated")
        batch_op.drop_index("ix_ror_organizations_part_of")
        batch_op.drop_index("ix_ror_organizations_position")
        batch_op.drop_column("longitude")
        batch_op.drop_column("latitude")
