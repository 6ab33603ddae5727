"""identity: the protocol warnings of an INSi call (deviations the client tolerated)

Revision ID: 0006_insi_protocol_warnings
Revises: 0002_identity
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_insi_protocol_warnings"
down_revision: str | Sequence[str] | None = "0002_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("insi_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("protocol_warnings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("insi_calls", schema=None) as batch_op:
        batch_op.drop_column("protocol_warnings")
