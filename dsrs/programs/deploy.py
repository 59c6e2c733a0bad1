"""Deploying a program version (validated, stored immutably), activating versions whose time has come, and
retiring a program. Activation and retirement are told through the outbox, and an activation starts the
re-assessment of the whole registry under the new version."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.schema import program_versions, programs, reassessments
from dsrs.events import topics
from dsrs.events.envelope import new_envelope
from dsrs.events.ids import new_uuid
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.programs.versions import ProgramVersion, compiled, content_sha256, current_versions, version_of
from dsrs.rules import ProgramError, program_from_text

log = logging.getLogger(__name__)

# How far in the past an effective time may be and still count as "now" (clocks of callers differ).
CLOCK_SKEW = timedelta(minutes=1)


def effective_time(text: str) -> datetime:
    """An RFC 3339 time with its offset (`2025-07-01T00:00:00Z`); a time without one is ambiguous."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("an RFC 3339 time needs its offset, such as Z or +02:00")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first year in UTC
        raise ValueError("out of range") from None


class DeployRefused(ValueError):
    """The version cannot be deployed; `field` is what is wrong with it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class VersionConflict(Exception):
    """The version string is deployed already, with other content."""

    def __init__(self, existing: ProgramVersion) -> None:
        super().__init__(
            f"{existing.program_id} version {existing.version} is deployed already with other content "
            f"(sha256 {existing.content_sha256[:12]}); give the new content a new version"
        )
        self.existing = existing


@dataclass(frozen=True)
class Deployed:
    version: ProgramVersion
    # False: the same content was deployed already under this version, and nothing changed.
    created: bool
    activated: bool


async def deploy(
    connection: AsyncConnection,
    content: str,
    deployed_by: str,
    now: datetime,
    source: str,
    effective_from: datetime | None = None,
) -> Deployed:
    """Validate and store one program version; activate it if it is effective already."""
    sha256 = content_sha256(content)
    try:
        program = compiled(content, sha256, "the program")
    except ProgramError as error:
        raise DeployRefused("content", str(error).removeprefix("the program: ")) from None
    existing = await version_of(connection, program.id, program.version)
    if existing is not None:
        if existing.content_sha256 != sha256:
            raise VersionConflict(existing)
        return Deployed(existing, created=False, activated=False)
    if not program.active:
        raise DeployRefused("active", "a deployed version is active; retire the program to stop it")
    effective = now if effective_from is None else effective_from
    current = next((v for v in await current_versions(connection) if v.program_id == program.id), None)
    if current is not None and (effective < now - CLOCK_SKEW or effective < current.effective_from):
        raise DeployRefused(
            "effective_from",
            f"{effective.isoformat()} is in the past; version {current.version} decides until a later time",
        )
    await connection.execute(insert(programs).values(program_id=program.id).on_conflict_do_nothing())
    inserted = await connection.execute(
        insert(program_versions)
        .values(
            program_id=program.id,
            version=program.version,
            content=content,
            content_sha256=sha256,
            deployed_by=deployed_by,
            deployed_at=now,
            effective_from=effective,
        )
        # Workers starting together deploy the shipped files at once: the first one stores them.
        .on_conflict_do_nothing()
    )
    if inserted.rowcount == 0:
        return await deploy(connection, content, deployed_by, now, source, effective_from)
    activated = await activate_due(connection, now, source)
    stored = await version_of(connection, program.id, program.version)
    assert stored is not None
    return Deployed(stored, created=True, activated=any(v.version == program.version for v in activated))


async def activate_due(connection: AsyncConnection, now: datetime, source: str) -> list[ProgramVersion]:
    """Activate every version whose effective time has come, oldest first; each starts a re-assessment."""
    due = (
        await connection.execute(
            select(program_versions)
            .where(program_versions.c.activated_at.is_(None), program_versions.c.effective_from <= now)
            .order_by(program_versions.c.effective_from)
            .with_for_update(skip_locked=True)
        )
    ).all()
    activated = []
    for row in due:
        await connection.execute(
            update(program_versions)
            .where(program_versions.c.program_id == row.program_id, program_versions.c.version == row.version)
            .values(activated_at=now)
        )
        # A newer version supersedes a re-assessment still running under an older one.
        await connection.execute(
            update(reassessments)
            .where(reassessments.c.program_id == row.program_id, reassessments.c.status == "running")
            .values(status="superseded", finished_at=now, updated_at=now)
        )
        job = new_uuid()
        await connection.execute(
            insert(reassessments).values(
                id=job, program_id=row.program_id, version=row.version, started_at=now, updated_at=now
            )
        )
        data = {
            "program_id": row.program_id,
            "version": row.version,
            "content_sha256": row.content_sha256,
            "effective_from": row.effective_from.isoformat(),
            "activated_at": now.isoformat(),
            "reassessment_id": job,
        }
        envelope = new_envelope(topics.PROGRAM_VERSION_ACTIVATED, row.program_id, data, source)
        await add_events(connection, [OutgoingEvent(topics.PROGRAM_VERSION_ACTIVATED, envelope, None)])
        log.info("program %s version %s activated; re-assessment %s started", row.program_id, row.version, job)
        activated.append(ProgramVersion.of(row))
    return activated


async def retire(connection: AsyncConnection, program_id: str, retired_by: str, now: datetime, source: str) -> bool:
    """Retire a program: no new assessments, no new payments. False if it is unknown or retired already."""
    retired = await connection.execute(
        update(programs)
        .where(programs.c.program_id == program_id, programs.c.retired_at.is_(None))
        .values(retired_at=now, retired_by=retired_by)
    )
    if retired.rowcount == 0:
        return False
    await connection.execute(
        update(reassessments)
        .where(reassessments.c.program_id == program_id, reassessments.c.status == "running")
        .values(status="superseded", finished_at=now, updated_at=now)
    )
    data = {"program_id": program_id, "retired_at": now.isoformat()}
    envelope = new_envelope(topics.PROGRAM_RETIRED, program_id, data, source)
    await add_events(connection, [OutgoingEvent(topics.PROGRAM_RETIRED, envelope, None)])
    return True


def program_files(folder: Path) -> list[tuple[Path, str]]:
    """The program files of a folder with their text, active ones only (`active: false` is never deployed)."""
    files = []
    for path in sorted(folder.glob("*.yaml")):
        content = path.read_text(encoding="utf-8")
        if program_from_text(content, str(path)).active:
            files.append((path, content))
    return files


async def deploy_files(
    connection: AsyncConnection,
    files: Sequence[tuple[Path, str]],
    deployed_by: str,
    now: datetime,
    source: str,
    effective_from: datetime | None = None,
) -> list[Deployed]:
    """Deploy program files (the shipped ones on a fresh install): the same content again changes nothing;
    a version reused with other content is refused, naming the file."""
    outcomes = []
    for path, content in files:
        try:
            outcomes.append(await deploy(connection, content, deployed_by, now, source, effective_from))
        except DeployRefused as error:
            raise ProgramError(f"{path}: {error}") from None
        except VersionConflict as error:
            raise ProgramError(f"{path}: {error}") from None
    return outcomes
