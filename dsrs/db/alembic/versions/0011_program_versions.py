"""Programs as versioned data; each household version's eligibility facts; each household's current
decision per program; re-assessments of the registry; assessments pointing at the exact program content.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "program_versions",
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("deployed_by", sa.Text(), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("program_id", "version", name="pk_program_versions"),
    )
    op.create_index("ix_program_versions_content_sha256", "program_versions", ["content_sha256"])
    op.create_table(
        "programs",
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
        sa.Column("retired_by", sa.Text()),
        sa.PrimaryKeyConstraint("program_id", name="pk_programs"),
    )
    op.create_table(
        "household_facts",
        sa.Column("household_id", UUID(as_uuid=True), nullable=False),
        sa.Column("household_version", sa.Integer(), nullable=False),
        sa.Column("facts", JSONB(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("household_id", "household_version", name="pk_household_facts"),
    )
    # The facts of every household's current version, so that a re-assessment finds them all.
    op.execute(
        "INSERT INTO household_facts (household_id, household_version, facts) SELECT id, version, jsonb_build_object("
        "'region', region, 'household_size', household_size, 'children_under_5', children_under_5, "
        "'children_5_to_17', children_5_to_17, 'elderly_members', elderly_members, "
        "'disabled_members', disabled_members, 'monthly_income', monthly_income::float8, "
        "'dwelling_rooms', dwelling_rooms, 'has_electricity', has_electricity, "
        "'has_piped_water', has_piped_water, 'owns_livestock', owns_livestock) FROM households"
    )
    op.create_table(
        "current_decisions",
        sa.Column("household_id", UUID(as_uuid=True), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("assessment_id", UUID(as_uuid=True), nullable=False),
        sa.Column("household_version", sa.Integer(), nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("benefit_amount", sa.Numeric(14, 2)),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("household_id", "program_id", name="pk_current_decisions"),
    )
    op.create_index("ix_current_decisions_program_id_decision", "current_decisions", ["program_id", "decision"])
    # The decisions made before this revision: each household's newest per program.
    op.execute(
        "INSERT INTO current_decisions SELECT DISTINCT ON (household_id, program_id) household_id, program_id, "
        "id, household_version, policy_version, decision, benefit_amount, assessed_at FROM eligibility_assessments "
        "ORDER BY household_id, program_id, household_version DESC, assessed_at DESC"
    )
    op.create_table(
        "reassessments",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="running"),
        sa.Column("cursor", UUID(as_uuid=True)),
        sa.Column("pass_number", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("approved_to_denied", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("denied_to_approved", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("benefit_changed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_reassessments"),
        sa.UniqueConstraint("program_id", "version", name="uq_reassessments_program_id_version"),
        sa.CheckConstraint("status IN ('running', 'finished', 'superseded')", name="ck_reassessments_status_known"),
    )
    op.add_column("eligibility_assessments", sa.Column("program_sha256", sa.String(64)))
    op.add_column("eligibility_assessments", sa.Column("reassessment_id", UUID(as_uuid=True)))


def downgrade() -> None:
    op.drop_column("eligibility_assessments", "reassessment_id")
    op.drop_column("eligibility_assessments", "program_sha256")
    op.drop_table("reassessments")
    op.drop_table("current_decisions")
    op.drop_table("household_facts")
    op.drop_table("programs")
    op.drop_table("program_versions")
