"""The system of record: households, outbox, processed events, assessments, payments.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def upgrade() -> None:
    op.create_table(
        "households",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("head_of_household_name", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(32)),
        sa.Column("email", sa.String(254)),
        sa.Column("address", sa.Text()),
        sa.Column("region", sa.String(16), nullable=False),
        sa.Column("household_size", sa.Integer(), nullable=False),
        sa.Column("children_under_5", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("children_5_to_17", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("elderly_members", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("disabled_members", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("monthly_income", sa.Numeric(14, 2), nullable=False),
        sa.Column("dwelling_rooms", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("has_electricity", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("has_piped_water", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("owns_livestock", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_households"),
        sa.CheckConstraint("household_size BETWEEN 1 AND 50", name="ck_households_household_size_range"),
        sa.CheckConstraint("monthly_income >= 0", name="ck_households_income_not_negative"),
        sa.CheckConstraint(
            "children_under_5 + children_5_to_17 + elderly_members <= household_size",
            name="ck_households_members_within_size",
        ),
        sa.CheckConstraint("status IN ('active', 'inactive')", name="ck_households_status_known"),
    )
    op.create_index("ix_households_region_id", "households", ["region", "id"])

    op.create_table(
        "event_outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("aggregate_id", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("message_key", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_event_outbox"),
        sa.UniqueConstraint("event_id", name="uq_event_outbox_event_id"),
    )
    op.create_index(
        "ix_event_outbox_pending_aggregate",
        "event_outbox",
        ["aggregate_id", "id"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index(
        "ix_event_outbox_pending_created",
        "event_outbox",
        ["created_at"],
        postgresql_where=sa.text("published_at IS NULL"),
    )

    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="pk_processed_events"),
    )

    op.create_table(
        "eligibility_assessments",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("household_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("household_version", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("score", sa.Numeric(10, 4)),
        sa.Column("benefit_amount", sa.Numeric(14, 2)),
        sa.Column("rule_results", postgresql.JSONB(), nullable=False),
        sa.Column("source_event_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_eligibility_assessments"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_eligibility_assessments_household_id"),
        sa.CheckConstraint("decision IN ('approved', 'denied')", name="ck_eligibility_assessments_decision_known"),
        sa.UniqueConstraint(
            "household_id",
            "program_id",
            "household_version",
            "policy_version",
            name="uq_eligibility_assessments_once_per_version",
        ),
    )
    op.create_index(
        "ix_eligibility_assessments_latest",
        "eligibility_assessments",
        ["household_id", "program_id", "assessed_at"],
    )
    op.create_index(
        "ix_eligibility_assessments_program_decision", "eligibility_assessments", ["program_id", "decision"]
    )

    op.create_table(
        "payments",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("household_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("assessment_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("cycle", sa.String(16), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="scheduled"),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_payments_household_id"),
        sa.ForeignKeyConstraint(["assessment_id"], ["eligibility_assessments.id"], name="fk_payments_assessment_id"),
        sa.CheckConstraint("amount > 0", name="ck_payments_amount_positive"),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sent', 'completed', 'failed', 'cancelled')", name="ck_payments_status_known"
        ),
        sa.UniqueConstraint("idempotency_key", name="uq_payments_idempotency_key"),
        sa.UniqueConstraint("household_id", "program_id", "cycle", name="uq_payments_household_id_program_id_cycle"),
    )
    op.create_index("ix_payments_status_due_date", "payments", ["status", "due_date"])
    op.create_index("ix_payments_program_id_status", "payments", ["program_id", "status"])
    op.create_index("ix_payments_household_id", "payments", ["household_id"])


def downgrade() -> None:
    op.drop_table("payments")
    op.drop_table("eligibility_assessments")
    op.drop_table("processed_events")
    op.drop_table("event_outbox")
    op.drop_table("households")
