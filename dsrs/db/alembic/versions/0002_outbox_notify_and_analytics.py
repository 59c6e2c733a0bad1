"""Wake the outbox relay on insert, and keep the analytics counts that tables and rollups mirror.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # One notification per statement, not per row: a batch of events wakes the relay once.
    op.execute(
        """
        CREATE FUNCTION dsrs_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('dsrs_outbox', '');
            RETURN NULL;
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER event_outbox_notify AFTER INSERT ON event_outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION dsrs_notify_outbox()"
    )

    op.create_table(
        "analytics_counters",
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(16), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("program_id", "region", "metric", name="pk_analytics_counters"),
    )
    op.create_table(
        "analytics_windows",
        sa.Column("granularity", sa.String(8), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(16), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint(
            "granularity", "window_start", "program_id", "region", "metric", name="pk_analytics_windows"
        ),
        sa.CheckConstraint("granularity IN ('minute', 'hour', 'day')", name="ck_analytics_windows_granularity_known"),
    )


def downgrade() -> None:
    op.drop_table("analytics_windows")
    op.drop_table("analytics_counters")
    op.execute("DROP TRIGGER event_outbox_notify ON event_outbox")
    op.execute("DROP FUNCTION dsrs_notify_outbox()")
