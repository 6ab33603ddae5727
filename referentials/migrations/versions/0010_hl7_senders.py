"""identity: MLLP senders mapped to API keys in the database (no restart to add one)

Revision ID: 0010_hl7_senders
Revises: 0009_source_links
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_hl7_senders"
down_revision: str | Sequence[str] | None = "0009_source_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hl7_senders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_hl7_senders_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hl7_senders")),
        sa.UniqueConstraint("kind", "value", name="uq_hl7_senders"),
    )
    op.create_index(op.f("ix_hl7_senders_key_id"), "hl7_senders", ["key_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_hl7_senders_key_id"), table_name="hl7_senders")
    op.drop_table("hl7_senders")
