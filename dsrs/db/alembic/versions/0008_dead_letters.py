"""Dead letters with a state: what the reprocess agent saw, what it retried, recovered or parked.

Each letter is kept once by its id (its DLQ coordinates, or `db:` and its original coordinates for a
letter too large for the dead-letter topic, which is held here alone), with the original message so
that it can be retried without reading the topic again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("letter_id", sa.Text, nullable=False),
        sa.Column("original_topic", sa.Text, nullable=False),
        sa.Column("original_partition", sa.Integer, nullable=False),
        sa.Column("original_offset", sa.BigInteger, nullable=False),
        sa.Column("consumer", sa.Text),
        sa.Column("event_id", UUID(as_uuid=True)),
        sa.Column("error_class", sa.Text, nullable=False),
        sa.Column("error_message", sa.Text, nullable=False),
        sa.Column("cause", sa.Text, nullable=False),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("held_in_database", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("message_key", sa.LargeBinary),
        sa.Column("message_value", sa.LargeBinary),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("letter_id", name="pk_dead_letters"),
        sa.CheckConstraint(
            "state IN ('waiting', 'retried', 'recovered', 'parked')", name="ck_dead_letters_state_known"
        ),
        sa.CheckConstraint(
            "cause IN ('content', 'regions', 'programs', 'release')", name="ck_dead_letters_cause_known"
        ),
    )
    op.create_index("ix_dead_letters_state", "dead_letters", ["state", "cause"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_state", table_name="dead_letters")
    op.drop_table("dead_letters")
