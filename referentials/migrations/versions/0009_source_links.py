"""identity: links between an establishment's local ids (PAM France A24/A37)

Revision ID: 0009_source_links
Revises: 0006_pam_provenance
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0009_source_links"
down_revision: str | Sequence[str] | None = "0006_pam_provenance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "source_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("linked_source_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("control_id", sa.String(length=199), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["source_records.id"],
            name=op.f("fk_source_links_source_id_source_records"),
        ),
        sa.ForeignKeyConstraint(
            ["linked_source_id"],
            ["source_records.id"],
            name=op.f("fk_source_links_linked_source_id_source_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_links")),
        sa.UniqueConstraint("source_id", "linked_source_id", name="uq_source_links"),
    )
    op.create_index(
        op.f("ix_source_links_linked_source_id"), "source_links", ["linked_source_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_source_links_linked_source_id"), table_name="source_links")
    op.drop_table("source_links")
