"""identity: the event feed's cursor, assigned by the relay after commit (an outbox)

Revision ID: 0006_event_feed_cursor
Revises: 0002_identity
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_event_feed_cursor"
down_revision: str | Sequence[str] | None = "0002_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("identity_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed_cursor", sa.BigInteger(), nullable=True))
    # Events written before the relay existed were ordered by the writers' lock: id is their cursor.
    op.execute("UPDATE identity_events SET feed_cursor = id")
    with op.batch_alter_table("identity_events", schema=None) as batch_op:
        batch_op.create_index("ix_identity_events_feed_cursor", ["feed_cursor"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("identity_events", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_events_feed_cursor")
        batch_op.drop_column("feed_cursor")
