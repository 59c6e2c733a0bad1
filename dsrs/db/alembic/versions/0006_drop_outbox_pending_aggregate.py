"""Drop the outbox index by pending aggregate: no query uses it since the relay claims by pages of ids.

The relay's former claim looked up each pending event's older pending events by aggregate; the claim
now finds an aggregate's head as its first event in a page of pending events read by id
(ix_event_outbox_pending_id). The index was still written on every outbox insert and every publish.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.drop_index("ix_event_outbox_pending_aggregate", table_name="event_outbox")


def downgrade() -> None:
    op.create_index(
        "ix_event_outbox_pending_aggregate",
        "event_outbox",
        ["aggregate_id", "id"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
