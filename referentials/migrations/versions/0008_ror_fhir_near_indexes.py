"""ror: covering indexes for the near search's joins (place → offers, activity → offers)

Revision ID: 0008_ror_fhir_near_indexes
Revises: 0007_ror_lat_band
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_ror_fhir_near_indexes"
down_revision: str | Sequence[str] | None = "0007_ror_lat_band"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, old single-column index, its column, new index): the new index starts with the same
# column, so it serves every lookup the old one did and also answers with the offer id from the
# index alone (no visit of the table for each of the ~1,700 offer × place rows of a 30 km box).
INDEXES = (
    (
        "ror_offer_locations",
        "ix_ror_offer_locations_location_resource_id",
        "location_resource_id",
        "ix_ror_offer_locations_place_offer",
    ),
    (
        "ror_offer_activities",
        "ix_ror_offer_activities_code",
        "code",
        "ix_ror_offer_activities_code_offer",
    ),
)


def upgrade() -> None:
    for table, old, column, new in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(new, [column, "offer_id"], unique=False)
            batch_op.drop_index(old)


def downgrade() -> None:
    for table, old, column, new in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(old, [column], unique=False)
            batch_op.drop_index(new)
