"""directory: FINESS+ as published — a site's e-mail and its activities (authorisations)

Revision ID: 0007_finess_published
Revises: 0003_directory
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_finess_published"
down_revision: str | Sequence[str] | None = "0003_directory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dir_structures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=200), nullable=True))
    op.create_table(
        "dir_structure_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finess", sa.String(length=9), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("nature", sa.String(length=10), nullable=False),
        sa.Column("activity_code", sa.String(length=10), nullable=True),
        sa.Column("modality_code", sa.String(length=10), nullable=True),
        sa.Column("form_code", sa.String(length=10), nullable=True),
        sa.Column("authorisation_id", sa.String(length=20), nullable=True),
        sa.Column("arhgos_number", sa.String(length=40), nullable=True),
        sa.Column("starts_on", sa.String(length=10), nullable=True),
        sa.Column("ends_on", sa.String(length=10), nullable=True),
        sa.Column("state", sa.String(length=2), nullable=True),
        sa.ForeignKeyConstraint(["finess"], ["dir_structures.finess"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dir_structure_activities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dir_structure_activities_finess"), ["finess"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_dir_structure_activities_activity_code"), ["activity_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dir_structure_activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dir_structure_activities_activity_code"))
        batch_op.drop_index(batch_op.f("ix_dir_structure_activities_finess"))
    op.drop_table("dir_structure_activities")
    with op.batch_alter_table("dir_structures", schema=None) as batch_op:
        batch_op.drop_column("email")
