"""notify: the clients whose changes a subscription is not sent (its receiver's own)

Revision ID: 0010_subscription_skip
Revises: 0008_notify_core
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_subscription_skip"
down_revision: str | Sequence[str] | None = "0008_notify_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notify_subscriptions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("skip_changes_by", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("notify_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("skip_changes_by")
