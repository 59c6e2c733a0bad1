"""What an assessment leaves in PostgreSQL, whoever made it (a household's change or a re-assessment):
the assessment row, once per household version and program version; the household version's facts, kept
for replay; and the household's current decision per program."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Text, cast, text
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.bulk import arrays, insert_arrays
from dsrs.db.schema import eligibility_assessments, household_facts

ASSESSMENT_COLUMNS = (
    "id",
    "household_id",
    "household_version",
    "program_id",
    "policy_version",
    "program_sha256",
    "decision",
    "score",
    "benefit_amount",
    "rule_results",
    "source_event_id",
    "reassessment_id",
)
INSERT_ASSESSMENTS = (
    insert_arrays(eligibility_assessments, ASSESSMENT_COLUMNS)
    .on_conflict_do_nothing(constraint="uq_eligibility_assessments_once_per_version")
    # As text, the form its id was made in (dsrs.events.ids).
    .returning(cast(eligibility_assessments.c.id, Text).label("id"))
)
FACT_COLUMNS = ("household_id", "household_version", "facts")
INSERT_FACTS = insert_arrays(household_facts, FACT_COLUMNS).on_conflict_do_nothing()
# The newest stands: by household version, then by time (a re-assessment of the same household version).
UPSERT_CURRENT = text(
    "INSERT INTO current_decisions (household_id, program_id, assessment_id, household_version, policy_version, "
    "decision, benefit_amount, assessed_at) SELECT DISTINCT ON (household_id, program_id) household_id, "
    "program_id, id, household_version, policy_version, decision, benefit_amount, assessed_at "
    "FROM eligibility_assessments WHERE id = ANY(CAST(:ids AS uuid[])) "
    # A batch can hold two versions of one household: one row each, or the upsert meets a row twice.
    "ORDER BY household_id, program_id, household_version DESC, assessed_at DESC "
    "ON CONFLICT (household_id, program_id) DO UPDATE SET assessment_id = excluded.assessment_id, "
    "household_version = excluded.household_version, policy_version = excluded.policy_version, "
    "decision = excluded.decision, benefit_amount = excluded.benefit_amount, assessed_at = excluded.assessed_at "
    "WHERE (excluded.household_version, excluded.assessed_at) "
    ">= (current_decisions.household_version, current_decisions.assessed_at)"
)


async def store_assessments(
    connection: AsyncConnection,
    rows: Sequence[Mapping[str, Any]],
    facts: Sequence[Mapping[str, Any]] = (),
) -> set[str]:
    """Insert the assessments (and facts) not stored yet; returns the ids of those inserted now, whose
    households' current decisions are then updated."""
    if facts:
        await connection.execute(INSERT_FACTS, arrays(household_facts, facts, FACT_COLUMNS))
    if not rows:
        return set()
    inserted = await connection.execute(INSERT_ASSESSMENTS, arrays(eligibility_assessments, rows, ASSESSMENT_COLUMNS))
    stored = {row.id for row in inserted}
    if stored:
        await connection.execute(UPSERT_CURRENT, {"ids": list(stored)})
    return stored
