"""The DCI Social Registry API: the transactions it answered, the subscriptions it keeps, and the callbacks it
owes (notifications and asynchronous answers), each delivered at least once under a stable message id.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "dci_transactions",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("transaction_id", sa.String(99), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("sender_id", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reference_ids", ARRAY(sa.Text()), nullable=False),
        sa.Column("outcome", JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_dci_transactions"),
        sa.CheckConstraint("kind IN ('search', 'subscribe', 'unsubscribe')", name="ck_dci_transactions_kind_known"),
    )
    op.create_index("ix_dci_transactions_actor_transaction", "dci_transactions", ["actor", "transaction_id"])
    op.create_table(
        "dci_subscriptions",
        sa.Column("code", UUID(as_uuid=True), nullable=False),
        sa.Column("transaction_pk", UUID(as_uuid=True), nullable=False),
        sa.Column("reference_id", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("notify_url", sa.Text(), nullable=False),
        sa.Column("event_types", ARRAY(sa.Text()), nullable=False),
        sa.Column("filter", JSONB(), nullable=False),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="subscribe"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("code", name="pk_dci_subscriptions"),
        sa.ForeignKeyConstraint(
            ["transaction_pk"], ["dci_transactions.id"], name="fk_dci_subscriptions_transaction_pk"
        ),
        sa.CheckConstraint("status IN ('subscribe', 'unsubscribe')", name="ck_dci_subscriptions_status_known"),
    )
    op.create_index(
        "ix_dci_subscriptions_active", "dci_subscriptions", ["code"], postgresql_where=sa.text("status = 'subscribe'")
    )
    op.create_table(
        "dci_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("message_id", UUID(as_uuid=True), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", JSONB()),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text()),
        sa.Column("subscription_code", UUID(as_uuid=True)),
        sa.Column("event_id", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_dci_deliveries"),
        sa.UniqueConstraint("message_id", name="uq_dci_deliveries_message_id"),
        sa.CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="ck_dci_deliveries_state_known"),
    )
    op.create_index(
        "ix_dci_deliveries_due",
        "dci_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_table("dci_deliveries")
    op.drop_table("dci_subscriptions")
    op.drop_table("dci_transactions")
