"""How far the saga has got, read from PostgreSQL: used by the demo, the tests and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_STATUS = text(
    """
    WITH current AS (
        SELECT a.household_id, a.program_id, a.decision, h.status
        FROM eligibility_assessments a
        JOIN households h ON h.id = a.household_id AND h.version = a.household_version
    )
    SELECT
        (SELECT count(*) FROM households) AS households,
        (SELECT count(DISTINCT (household_id, program_id)) FROM current) AS assessed,
        (SELECT count(DISTINCT (household_id, program_id)) FROM current WHERE decision = 'approved') AS approved,
        -- A household that left before its approval reached the payment stage is rightly never paid.
        (SELECT count(*) FROM current c WHERE c.decision = 'approved' AND c.status = 'active' AND NOT EXISTS (
            SELECT 1 FROM payments p WHERE p.household_id = c.household_id AND p.program_id = c.program_id
        )) AS approved_unpaid,
        (SELECT count(*) FROM payments) AS payments,
        (SELECT count(*) FROM eligibility_assessments) AS assessments,
        (SELECT count(*) FROM event_outbox) AS outbox_pending,
        (SELECT coalesce(sum(count), 0) FROM analytics_counters WHERE metric = 'assessed') AS counted_assessed,
        (SELECT coalesce(sum(count), 0) FROM analytics_counters WHERE metric = 'payments_scheduled') AS counted_payments
    """
)


@dataclass(frozen=True)
class SagaStatus:
    households: int
    assessed: int  # (household, program) pairs decided for the household's current version
    approved: int
    approved_unpaid: int
    payments: int
    assessments: int  # every assessment ever made, re-assessments included
    outbox_pending: int
    counted_assessed: int
    counted_payments: int

    def settled(self, households: int, programs: int) -> bool:
        """Every household in, decided for every program, paid where approved, and all of it counted."""
        return (
            self.households >= households
            and self.assessed >= households * programs
            and self.approved_unpaid == 0
            and self.outbox_pending == 0
            and self.counted_assessed == self.assessments
            and self.counted_payments == self.payments
        )


async def saga_status(engine: AsyncEngine) -> SagaStatus:
    async with engine.connect() as connection:
        row = (await connection.execute(_STATUS)).one()
    return SagaStatus(**{name: int(value) for name, value in row._mapping.items()})
