"""identity: each event's origin, the client whose request made the change

Revision ID: 0010_event_origin
Revises: 0006_event_feed_cursor
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_event_origin"
down_revision: str | Sequence[str] | None = "0006_event_feed_cursor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Events written before it have none: every subscription still hears of them.
    with op.batch_alter_table("identity_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_events", schema=None) as batch_op:
        batch_op.drop_column("origin")
