"""A deployed program version, and reading them back."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.schema import program_versions, programs
from dsrs.rules import Program, program_from_text


def content_sha256(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def compiled(content: str, sha256: str, origin: str) -> Program:
    """The program a deployed content decides with, carrying the content's hash."""
    return dataclasses.replace(program_from_text(content, origin), content_sha256=sha256)


@dataclass(frozen=True)
class ProgramVersion:
    program_id: str
    version: str
    content: str
    content_sha256: str
    deployed_by: str
    deployed_at: datetime
    effective_from: datetime
    activated_at: datetime | None
    # Whether it is the version deciding now: the newest activated one of a program not retired.
    current: bool = False

    @classmethod
    def of(cls, row: Row[Any], current: bool = False) -> ProgramVersion:
        return cls(
            row.program_id,
            row.version,
            row.content,
            row.content_sha256,
            row.deployed_by,
            row.deployed_at,
            row.effective_from,
            row.activated_at,
            current,
        )

    def to_json(self, with_content: bool = True) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "program_id": self.program_id,
            "version": self.version,
            "content_sha256": self.content_sha256,
            "deployed_by": self.deployed_by,
            "deployed_at": self.deployed_at.isoformat(),
            "effective_from": self.effective_from.isoformat(),
            "activated_at": None if self.activated_at is None else self.activated_at.isoformat(),
            "current": self.current,
        }
        if with_content:
            shown["content"] = self.content
        return shown


# The version deciding for each program: the newest activated one, unless the program is retired.
CURRENT_VERSIONS = (
    select(program_versions)
    .join(programs, programs.c.program_id == program_versions.c.program_id)
    .where(program_versions.c.activated_at.is_not(None), programs.c.retired_at.is_(None))
    .order_by(
        program_versions.c.program_id,
        program_versions.c.effective_from.desc(),
        program_versions.c.activated_at.desc(),
    )
    .ext(distinct_on(program_versions.c.program_id))
)


async def current_versions(connection: AsyncConnection) -> list[ProgramVersion]:
    return [ProgramVersion.of(row, current=True) for row in await connection.execute(CURRENT_VERSIONS)]


async def versions_of(connection: AsyncConnection, program_id: str) -> list[ProgramVersion]:
    current = {(v.program_id, v.version) for v in await current_versions(connection)}
    rows = await connection.execute(
        select(program_versions)
        .where(program_versions.c.program_id == program_id)
        .order_by(program_versions.c.effective_from, program_versions.c.deployed_at)
    )
    return [ProgramVersion.of(row, (row.program_id, row.version) in current) for row in rows]


async def version_of(connection: AsyncConnection, program_id: str, version: str) -> ProgramVersion | None:
    for found in await versions_of(connection, program_id):
        if found.version == version:
            return found
    return None


async def version_by_sha256(connection: AsyncConnection, sha256: str) -> ProgramVersion | None:
    row = (
        await connection.execute(select(program_versions).where(program_versions.c.content_sha256 == sha256).limit(1))
    ).first()
    return None if row is None else ProgramVersion.of(row)
