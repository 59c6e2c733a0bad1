"""Payment cycles (one row per program and cycle, with its state); one live payment per household,
program and cycle, a cancelled one leaving room for another; payments flagged for review; why a
household left.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "payment_cycles",
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("cycle", sa.String(16), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="opening"),
        sa.Column("cutoff_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("opened_at", sa.DateTime(timezone=True)),
        sa.Column("opened_by", sa.Text(), nullable=False),
        sa.Column("payments_created", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("program_id", "cycle", name="pk_payment_cycles"),
        sa.CheckConstraint("status IN ('opening', 'open')", name="ck_payment_cycles_status_known"),
    )
    op.add_column("payments", sa.Column("review_reason", sa.Text()))
    op.add_column("households", sa.Column("status_reason", sa.Text()))
    op.drop_constraint("uq_payments_household_id_program_id_cycle", "payments", type_="unique")
    op.create_index(
        "uq_payments_once_per_cycle",
        "payments",
        ["household_id", "program_id", "cycle"],
        unique=True,
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    # A household's current assessment per program is found by version, then time.
    op.create_index(
        "ix_eligibility_assessments_current",
        "eligibility_assessments",
        ["program_id", "household_id", sa.text("household_version DESC"), sa.text("assessed_at DESC")],
    )


def downgrade() -> None:
    op.drop_index("ix_eligibility_assessments_current", table_name="eligibility_assessments")
    op.drop_index("uq_payments_once_per_cycle", table_name="payments")
    # Cancelled duplicates would break the old constraint: keep the oldest payment of each cycle.
    op.execute(
        "DELETE FROM payment_transitions t USING payments p WHERE t.payment_id = p.id AND EXISTS ("
        "SELECT 1 FROM payments o WHERE o.household_id = p.household_id AND o.program_id = p.program_id "
        "AND o.cycle = p.cycle AND o.created_at < p.created_at)"
    )
    op.execute(
        "DELETE FROM payments p WHERE EXISTS (SELECT 1 FROM payments o WHERE o.household_id = p.household_id "
        "AND o.program_id = p.program_id AND o.cycle = p.cycle AND o.created_at < p.created_at)"
    )
    op.create_unique_constraint(
        "uq_payments_household_id_program_id_cycle", "payments", ["household_id", "program_id", "cycle"]
    )
    op.drop_column("households", "status_reason")
    op.drop_column("payments", "review_reason")
    op.drop_table("payment_cycles")
