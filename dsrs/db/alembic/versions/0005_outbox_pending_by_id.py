"""Index the outbox's pending events by id, so the relay's claim does not read the published ones.

Without it the relay walked the primary key in id order and filtered out every published row: a claim
took 0.74 s once 340,000 events had been published, and the saga slowed as its history grew.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index(
        "ix_event_outbox_pending_id", "event_outbox", ["id"], postgresql_where=sa.text("published_at IS NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_event_outbox_pending_id", table_name="event_outbox")
