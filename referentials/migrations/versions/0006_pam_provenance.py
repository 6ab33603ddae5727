"""identity: the sender's provenance of a local id (PAM France ZFD)

Revision ID: 0006_pam_provenance
Revises: 0002_identity
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_pam_provenance"
down_revision: str | Sequence[str] | None = "0002_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("collection_mode", sa.String(length=4)),
    ("insi_queried_on", sa.Date()),
    ("proof", sa.String(length=2)),
    ("proof_expiry", sa.Date()),
    ("provenance_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("source_records", schema=None) as batch_op:
        for name, type_ in COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_records", schema=None) as batch_op:
        for name, _ in reversed(COLUMNS):
            batch_op.drop_column(name)
