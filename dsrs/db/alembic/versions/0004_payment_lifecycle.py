"""Payment lifecycle enforced by the database, with its history; reconciliation; dead-letter replays.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

TRANSITIONS = (
    ("scheduled", "sent"),
    ("scheduled", "cancelled"),
    ("sent", "completed"),
    ("sent", "failed"),
    ("failed", "scheduled"),
    ("failed", "cancelled"),
)


def upgrade() -> None:
    op.add_column("payments", sa.Column("max_attempts", sa.Integer(), nullable=False, server_default="5"))
    op.add_column("payments", sa.Column("next_attempt_at", sa.DateTime(timezone=True)))
    op.add_column("payments", sa.Column("settle_by", sa.Date()))
    op.add_column("payments", sa.Column("provider_reference", sa.Text()))
    op.add_column("payments", sa.Column("settled_amount", sa.Numeric(14, 2)))
    op.add_column("payments", sa.Column("settled_at", sa.DateTime(timezone=True)))
    op.add_column("payments", sa.Column("last_error", sa.Text()))
    op.create_unique_constraint("uq_payments_provider_reference", "payments", ["provider_reference"])
    op.execute("UPDATE payments SET settle_by = due_date + 5")
    op.alter_column("payments", "settle_by", nullable=False)

    op.create_table(
        "payment_transitions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("payment_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_payment_transitions"),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name="fk_payment_transitions_payment_id"),
    )
    op.create_index("ix_payment_transitions_payment_id", "payment_transitions", ["payment_id", "id"])
    allowed = " OR ".join(f"(OLD.status = '{a}' AND NEW.status = '{b}')" for a, b in TRANSITIONS)
    # The state machine lives in the database: no code path, old or new, can skip a state or go back.
    op.execute(
        f"""
        CREATE FUNCTION dsrs_payment_transition() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO payment_transitions (payment_id, from_status, to_status, attempt)
                VALUES (NEW.id, NULL, NEW.status, NEW.attempts);
                RETURN NEW;
            END IF;
            IF NEW.status = OLD.status THEN
                RETURN NEW;
            END IF;
            IF NOT ({allowed}) THEN
                RAISE EXCEPTION 'payment % cannot go from % to %', OLD.id, OLD.status, NEW.status
                    USING ERRCODE = 'check_violation';
            END IF;
            INSERT INTO payment_transitions (payment_id, from_status, to_status, attempt, reason)
            VALUES (NEW.id, OLD.status, NEW.status, NEW.attempts, NEW.last_error);
            NEW.updated_at := now();
            RETURN NEW;
        END;
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER payments_state_machine BEFORE UPDATE OF status ON payments "
        "FOR EACH ROW EXECUTE FUNCTION dsrs_payment_transition()"
    )
    op.execute(
        "CREATE TRIGGER payments_first_state AFTER INSERT ON payments "
        "FOR EACH ROW EXECUTE FUNCTION dsrs_payment_transition()"
    )
    op.create_index(
        "ix_payments_dispatchable",
        "payments",
        ["due_date", "next_attempt_at"],
        postgresql_where=sa.text("status = 'scheduled'"),
    )

    # The simulated provider's own books: what it was asked to pay, and when it reports back.
    op.create_table(
        "simulated_provider_ledger",
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("payment_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("settle_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("reference", name="pk_simulated_provider_ledger"),
        sa.UniqueConstraint("idempotency_key", name="uq_simulated_provider_ledger_idempotency_key"),
    )
    op.create_index(
        "ix_simulated_provider_ledger_unreported",
        "simulated_provider_ledger",
        ["settle_at"],
        postgresql_where=sa.text("reported_at IS NULL"),
    )

    op.create_table(
        "reconciliation_runs",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("mismatches", sa.Integer(), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_reconciliation_runs"),
    )
    op.create_table(
        "reconciliation_mismatches",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("run_id", postgresql.UUID(as_uuid=True)),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payment_id", postgresql.UUID(as_uuid=True)),
        sa.Column("reference", sa.Text()),
        sa.Column("details", postgresql.JSONB(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_reconciliation_mismatches"),
        sa.ForeignKeyConstraint(["run_id"], ["reconciliation_runs.id"], name="fk_reconciliation_mismatches_run_id"),
        sa.CheckConstraint(
            "kind IN ('amount_mismatch', 'unknown_reference', 'duplicate_settlement', 'unsettled_past_deadline')",
            name="ck_reconciliation_mismatches_kind_known",
        ),
    )
    op.create_index("ix_reconciliation_mismatches_run_id", "reconciliation_mismatches", ["run_id", "id"])

    op.create_table(
        "dlq_replays",
        sa.Column("dlq_topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("dlq_offset", sa.BigInteger(), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("replayed_by", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("dlq_topic", "partition", "dlq_offset", name="pk_dlq_replays"),
    )


def downgrade() -> None:
    op.drop_table("dlq_replays")
    op.drop_table("reconciliation_mismatches")
    op.drop_table("reconciliation_runs")
    op.drop_table("simulated_provider_ledger")
    op.drop_index("ix_payments_dispatchable", table_name="payments")
    op.execute("DROP TRIGGER payments_first_state ON payments")
    op.execute("DROP TRIGGER payments_state_machine ON payments")
    op.execute("DROP FUNCTION dsrs_payment_transition()")
    op.drop_table("payment_transitions")
    op.drop_constraint("uq_payments_provider_reference", "payments")
    for column in (
        "last_error",
        "settled_at",
        "settled_amount",
        "provider_reference",
        "settle_by",
        "next_attempt_at",
        "max_attempts",
    ):
        op.drop_column("payments", column)
