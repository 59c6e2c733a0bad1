"""What the API and the command line show of programs: each with its versions and whether it is retired,
and the re-assessment jobs their activations started."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.schema import programs, reassessments
from dsrs.programs.versions import ProgramVersion, versions_of

# A job's progress as shown; its cursor (where it is in the registry) is the job's own business.
JOB_FIELDS = (
    "id",
    "program_id",
    "version",
    "status",
    "total",
    "done",
    "approved_to_denied",
    "denied_to_approved",
    "benefit_changed",
    "failed",
    "pass_number",
    "started_at",
    "updated_at",
    "finished_at",
)


@dataclass(frozen=True)
class ProgramState:
    program_id: str
    retired_at: datetime | None
    retired_by: str | None
    # Oldest effective first.
    versions: list[ProgramVersion]

    @property
    def current(self) -> ProgramVersion | None:
        return next((version for version in self.versions if version.current), None)

    def to_json(self) -> dict[str, Any]:
        current = self.current
        return {
            "program_id": self.program_id,
            "current_version": None if current is None else current.version,
            "retired": self.retired_at is not None,
            "retired_at": None if self.retired_at is None else self.retired_at.isoformat(),
            "retired_by": self.retired_by,
            "versions": [version.to_json(with_content=False) for version in self.versions],
        }


async def program_states(connection: AsyncConnection, program_id: str | None = None) -> list[ProgramState]:
    """Every deployed program (or the one asked for) by id, each with its versions."""
    query = select(programs).order_by(programs.c.program_id)
    if program_id is not None:
        query = query.where(programs.c.program_id == program_id)
    return [
        ProgramState(row.program_id, row.retired_at, row.retired_by, await versions_of(connection, row.program_id))
        for row in (await connection.execute(query)).all()
    ]


async def reassessment_jobs(
    connection: AsyncConnection, program_id: str, limit: int, job_id: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    """The program's re-assessments (or the one asked for), latest first."""
    columns = reassessments.c
    query = (
        select(*(columns[name] for name in JOB_FIELDS))
        .where(columns.program_id == program_id)
        .order_by(columns.started_at.desc(), columns.id.desc())
        .limit(limit)
    )
    if job_id is not None:
        query = query.where(columns.id == job_id)
    return [dict(row._mapping) for row in await connection.execute(query)]
