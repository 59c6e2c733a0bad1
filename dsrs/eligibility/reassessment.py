"""Re-assessing the whole registry when a program version activates, as a resumable job.

Each step is one transaction: it locks the job, reads the next page of active households in id order
with their current facts and current decision, decides them under the new version, writes the page's
assessments at once, and moves the job's cursor. A worker killed mid-page rolls the page back, and the
next step (on any worker) does it again; the unique assessment per household version and program version
keeps it once. Only households whose decision or benefit changes get events; the others their row.

A second pass picks up the households whose facts were recorded while the first ran, in case one was
decided by a batch that had read the older version before the activation committed.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.db.schema import households, reassessments
from dsrs.eligibility.assessor import Assessed, assessment_event, assessment_row, check_fits_columns
from dsrs.eligibility.records import store_assessments
from dsrs.monitoring.metrics import REASSESSED
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.programs.catalog import ProgramCatalog
from dsrs.rules import Program, RuleEvaluationError, assess
from dsrs.streams.errors import PermanentError

log = logging.getLogger(__name__)

FIRST_ID = uuid.UUID(int=0)
# The first pass takes every household; the second those whose facts were recorded since the job started.
FIRST_SINCE = datetime(1970, 1, 1, tzinfo=UTC)
# Active households after the cursor whose current decision is not yet under this version at their version.
PAGE = text(
    "SELECT h.id, h.version, f.facts, f.facts->>'region' AS region, c.decision, c.benefit_amount "
    "FROM households h "
    "JOIN household_facts f ON f.household_id = h.id AND f.household_version = h.version "
    # The cursor bound on c too lets its index scan start at the cursor, not at the first household.
    "LEFT JOIN current_decisions c ON c.household_id = h.id AND c.program_id = :program AND c.household_id > :cursor "
    "WHERE h.status = 'active' AND h.id > :cursor AND f.recorded_at >= :since "
    "AND (c.household_id IS NULL OR c.policy_version <> :version OR c.household_version <> h.version) "
    "ORDER BY h.id LIMIT :page"
)
ACTIVE_HOUSEHOLDS = select(func.count()).select_from(households).where(households.c.status == "active")


@dataclass
class PageCounts:
    done: int = 0
    approved_to_denied: int = 0
    denied_to_approved: int = 0
    benefit_changed: int = 0
    failed: int = 0
    # Every kind of change (first decisions and unchanged ones too), for the metric.
    changes: Counter[str] = field(default_factory=Counter)

    def as_increments(self) -> dict[str, Any]:
        columns = reassessments.c
        return {name: columns[name] + getattr(self, name) for name in JOB_COUNTS}


JOB_COUNTS = ("done", "approved_to_denied", "denied_to_approved", "benefit_changed", "failed")


class Reassessor:
    def __init__(self, engine: AsyncEngine, catalog: ProgramCatalog, source: str, page_size: int = 1000) -> None:
        self.engine = engine
        self.catalog = catalog
        self.source = source
        self.page_size = page_size

    async def step(self) -> int:
        """One page of the oldest running re-assessment; how many households it went through (0: none to do)."""
        async with self.engine.begin() as connection:
            job = (
                await connection.execute(
                    select(reassessments)
                    .where(reassessments.c.status == "running")
                    .order_by(reassessments.c.started_at)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).first()
            if job is None:
                return 0
            program = (await self.catalog.active(connection)).get(job.program_id)
            if program is None or program.version != job.version:
                # Retired, or a newer version activated, since: that one's job re-assesses.
                await self._finish(connection, job.id, "superseded")
                return 1
            counts = await self._page(connection, job, program)
        # Counted once committed: a page rolled back re-assessed nobody.
        for change, count in counts.changes.items():
            REASSESSED.labels(program=program.id, change=change).inc(count)
        return max(counts.done, 1)

    async def _page(self, connection: AsyncConnection, job: Row[Any], program: Program) -> PageCounts:
        jobs = reassessments.c
        if job.cursor is None and job.pass_number == 1:
            total = int(await connection.scalar(ACTIVE_HOUSEHOLDS) or 0)
            await connection.execute(update(reassessments).where(jobs.id == job.id).values(total=total))
        since = job.started_at if job.pass_number == 2 else FIRST_SINCE
        page = (
            await connection.execute(
                PAGE,
                {
                    "program": program.id,
                    "version": program.version,
                    "cursor": job.cursor or FIRST_ID,
                    "since": since,
                    "page": self.page_size,
                },
            )
        ).all()
        if not page:
            if job.pass_number == 1:
                await connection.execute(
                    update(reassessments)
                    .where(jobs.id == job.id)
                    .values(pass_number=2, cursor=None, updated_at=func.now())
                )
            else:
                await self._finish(connection, job.id, "finished")
            return PageCounts()
        counts, rows, events = self._decide(page, program, str(job.id))
        stored = await store_assessments(connection, rows)
        await add_events(
            connection, [event for row, event in zip(rows, events, strict=True) if event and row["id"] in stored]
        )
        await connection.execute(
            update(reassessments)
            .where(jobs.id == job.id)
            .values(
                cursor=page[-1].id,
                updated_at=func.now(),
                total=func.greatest(jobs.total, jobs.done + counts.done),
                **counts.as_increments(),
            )
        )
        return counts

    def _decide(
        self, page: Sequence[Row[Any]], program: Program, job_id: str
    ) -> tuple[PageCounts, list[dict[str, Any]], list[OutgoingEvent | None]]:
        counts = PageCounts()
        changes: Counter[str] = Counter()
        rows: list[dict[str, Any]] = []
        events: list[OutgoingEvent | None] = []
        for household in page:
            counts.done += 1
            try:
                assessment = assess(program, household.facts)
                check_fits_columns(assessment)
            except (RuleEvaluationError, PermanentError) as error:
                counts.failed += 1
                log.warning("re-assessment %s: household %s not decided: %s", job_id, household.id, error)
                continue
            household_version = Assessed(household.id, household.version, household.region, None)
            row = assessment_row(household_version, program, assessment, cause_id=job_id, reassessment_id=job_id)
            change = _change(household.decision, household.benefit_amount, assessment.decision, row["benefit_amount"])
            changes[change] += 1
            rows.append(row)
            # Only a changed decision is told: payments and analytics have nothing to follow otherwise.
            unchanged = change == "unchanged"
            events.append(
                None if unchanged else assessment_event(row, household_version, program, assessment, self.source)
            )
        counts.approved_to_denied = changes["approved_to_denied"]
        counts.denied_to_approved = changes["denied_to_approved"]
        counts.benefit_changed = changes["benefit_changed"]
        counts.changes = changes
        return counts, rows, events

    async def _finish(self, connection: AsyncConnection, job_id: uuid.UUID, status: str) -> None:
        await connection.execute(
            update(reassessments)
            .where(reassessments.c.id == job_id)
            .values(status=status, finished_at=func.now(), updated_at=func.now())
        )


def _change(before: str | None, before_amount: Decimal | None, after: str, after_amount: Decimal | None) -> str:
    """How the household's decision moved; a household decided for the first time counts as changed."""
    if before is None:
        return "first_decision"
    if before != after:
        return "approved_to_denied" if before == "approved" else "denied_to_approved"
    if after == "approved" and before_amount != after_amount:
        return "benefit_changed"
    return "unchanged"
