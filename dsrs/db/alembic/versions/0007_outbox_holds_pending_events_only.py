"""The outbox holds pending events only: the relay deletes what the broker acknowledged.

Marking a published event (`UPDATE ... SET published_at`) wrote the whole ~1 KB row again, with new
entries in its primary key and event-id indexes, since a column in the partial indexes' predicate
changed: a 60,000-household run wrote 267 MB of WAL for it, and PostgreSQL spent about 250 us of CPU a
household against 210 us with a DELETE. Published events live on in their Kafka topics; what the
database keeps for the record are the effects (households, assessments, payments) and the audit log.
With only pending rows left, the primary key is the index of pending events by id, and the partial
indexes go with the column their predicate read.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute("DELETE FROM event_outbox WHERE published_at IS NOT NULL")
    op.drop_index("ix_event_outbox_pending_id", table_name="event_outbox")
    op.drop_index("ix_event_outbox_pending_created", table_name="event_outbox")
    op.drop_column("event_outbox", "published_at")


def downgrade() -> None:
    # Every row left is pending: the published ones were deleted as they went out.
    op.add_column("event_outbox", sa.Column("published_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_event_outbox_pending_created",
        "event_outbox",
        ["created_at"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index(
        "ix_event_outbox_pending_id", "event_outbox", ["id"], postgresql_where=sa.text("published_at IS NULL")
    )
