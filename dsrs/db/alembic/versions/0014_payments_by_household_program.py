"""Payments are found by household and program: the payment stage looks up each decided household's payments
under the program, and with an index on the household alone the planner could take the index on program and
status instead, which holds every payment of the program. Its prefix still serves look-ups by household.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-16
"""

from __future__ import annotations

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_payments_household_program", "payments", ["household_id", "program_id"])
    op.drop_index("ix_payments_household_id", table_name="payments")


def downgrade() -> None:
    op.create_index("ix_payments_household_id", "payments", ["household_id"])
    op.drop_index("ix_payments_household_program", table_name="payments")
