"""Deduplication at registration: a household's optional national id, its blocking keys, and the pairs of
households that may be one family, with the officer's decision.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("households", sa.Column("national_id", sa.String(20)))
    op.create_table(
        "household_match_keys",
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.Column("household_id", UUID(as_uuid=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "household_id", name="pk_household_match_keys"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_household_match_keys_household_id"),
    )
    op.create_index("ix_household_match_keys_household_id", "household_match_keys", ["household_id"])
    op.create_table(
        "duplicate_pairs",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("household_id", UUID(as_uuid=True), nullable=False),
        sa.Column("candidate_id", UUID(as_uuid=True), nullable=False),
        sa.Column("region", sa.String(16), nullable=False),
        sa.Column("score", sa.Numeric(4, 3), nullable=False),
        sa.Column("matched_fields", ARRAY(sa.Text()), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="suspected"),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.Text()),
        sa.Column("kept_household_id", UUID(as_uuid=True)),
        sa.PrimaryKeyConstraint("id", name="pk_duplicate_pairs"),
        sa.ForeignKeyConstraint(["household_id"], ["households.id"], name="fk_duplicate_pairs_household_id"),
        sa.ForeignKeyConstraint(["candidate_id"], ["households.id"], name="fk_duplicate_pairs_candidate_id"),
        sa.ForeignKeyConstraint(["kept_household_id"], ["households.id"], name="fk_duplicate_pairs_kept_household_id"),
        sa.CheckConstraint("status IN ('suspected', 'merged', 'dismissed')", name="ck_duplicate_pairs_status_known"),
        sa.CheckConstraint("household_id <> candidate_id", name="ck_duplicate_pairs_two"),
        sa.CheckConstraint("score BETWEEN 0 AND 1", name="ck_duplicate_pairs_score_range"),
    )
    # One row per unordered pair, whichever household raised it: a decided pair is never raised again.
    op.execute(
        "CREATE UNIQUE INDEX uq_duplicate_pairs_once ON duplicate_pairs "
        "(least(household_id, candidate_id), greatest(household_id, candidate_id))"
    )
    op.create_index(
        "ix_duplicate_pairs_held",
        "duplicate_pairs",
        ["household_id"],
        postgresql_where=sa.text("status = 'suspected'"),
    )
    op.create_index("ix_duplicate_pairs_candidate_id", "duplicate_pairs", ["candidate_id"])
    op.create_index("ix_duplicate_pairs_status_region", "duplicate_pairs", ["status", "region"])


def downgrade() -> None:
    op.drop_table("duplicate_pairs")
    op.drop_table("household_match_keys")
    op.drop_column("households", "national_id")
