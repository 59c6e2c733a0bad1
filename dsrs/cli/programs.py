"""`dsrs programs deploy | list | retire | reassessment`: program versions in PostgreSQL, without a worker.

A deploy that activates a version starts its re-assessment; the workers carry it out."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.audit.trail import AuditEntry, record
from dsrs.auth.tokens import Principal
from dsrs.cli.errors import one_line_errors_for
from dsrs.db.engine import create_engine
from dsrs.programs.deploy import Deployed, deploy_files, effective_time, program_files, retire
from dsrs.programs.reads import ProgramState, program_states, reassessment_jobs
from dsrs.rules import ProgramError
from dsrs.settings import Settings, load_settings

T = TypeVar("T")


class ProgramsRefused(Exception):
    """The command cannot do what was asked: the reason is its one line."""


def _operator() -> Principal:
    # The audit trail's actor: whoever ran the command on this machine; a command line carries no role.
    return Principal(f"cli:{getpass.getuser()}", frozenset())


async def _in_transaction(settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.begin() as connection:
            return await work(connection)
    finally:
        await engine.dispose()


class _EffectiveTime(click.ParamType):
    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        try:
            return effective_time(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an RFC 3339 time with its offset, such as 2025-07-01T00:00:00Z", param, ctx)


def _read(path: Path) -> tuple[Path, str]:
    try:
        return path, path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ProgramsRefused(f"{path}: not UTF-8 text") from None


def _outcome(deployed: Deployed) -> str:
    version = deployed.version
    if not deployed.created:
        return "unchanged"
    if deployed.activated:
        return "created, activated: its re-assessment starts"
    return f"created, scheduled for {version.effective_from.isoformat()}"


@click.group()
def programs() -> None:
    """Program versions: deploy, list, retire, and follow a re-assessment."""


@programs.command("deploy")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--effective-from", type=_EffectiveTime(), default=None, help="When it decides (default: now)")
@one_line_errors_for(ProgramError, ProgramsRefused)
def deploy_command(files: tuple[Path, ...], effective_from: datetime | None) -> None:
    """Deploy FILE.yaml ... (default: every active program file of DSRS_PROGRAMS_DIR), all or none."""
    settings = load_settings()
    chosen = [_read(path) for path in files] if files else program_files(settings.programs_dir)
    operator = _operator()

    async def work(connection: AsyncConnection) -> list[Deployed]:
        now = datetime.now(UTC)
        outcomes = await deploy_files(connection, chosen, operator.subject, now, settings.source_name, effective_from)
        for deployed in outcomes:
            if deployed.created:
                shown = deployed.version.to_json(with_content=False)
                entry = AuditEntry("program.deploy", "program", deployed.version.program_id, None, shown)
                await record(connection, operator, entry)
        return outcomes

    outcomes = asyncio.run(_in_transaction(settings, work))
    for (path, _), deployed in zip(chosen, outcomes, strict=True):
        version = deployed.version
        click.echo(f"{path}: {version.program_id} {version.version} {_outcome(deployed)}")


def _state_line(state: ProgramState) -> str:
    current = state.current
    if state.retired_at is not None:
        return f"{state.program_id}: retired {state.retired_at.isoformat()} by {state.retired_by}"
    return f"{state.program_id}: current {current.version if current else 'none (none activated yet)'}"


@programs.command("list")
@one_line_errors_for()
def list_command() -> None:
    """Each program, whether it is retired, and its versions (the current one marked *)."""

    async def work(connection: AsyncConnection) -> list[ProgramState]:
        return await program_states(connection)

    for state in asyncio.run(_in_transaction(load_settings(), work)):
        click.echo(_state_line(state))
        for version in state.versions:
            mark = "*" if version.current else " "
            activated = version.activated_at.isoformat() if version.activated_at else "not yet activated"
            click.echo(
                f"  {mark} {version.version:<12} sha256 {version.content_sha256[:12]}  "
                f"effective {version.effective_from.isoformat()}  activated {activated}  by {version.deployed_by}"
            )


@programs.command("retire")
@click.argument("program_id", metavar="ID")
@one_line_errors_for(ProgramsRefused)
def retire_command(program_id: str) -> None:
    """Retire program ID: no new assessments and no new payments under any of its versions."""
    settings = load_settings()
    operator = _operator()

    async def work(connection: AsyncConnection) -> ProgramState:
        retired = await retire(connection, program_id, operator.subject, datetime.now(UTC), settings.source_name)
        states = await program_states(connection, program_id)
        if not states:
            raise ProgramsRefused(f"no program {program_id!r}")
        if not retired:
            raise ProgramsRefused(f"{program_id} is retired already")
        after = {"retired": True, "retired_at": states[0].retired_at}
        await record(
            connection, operator, AuditEntry("program.retire", "program", program_id, {"retired": False}, after)
        )
        return states[0]

    click.echo(_state_line(asyncio.run(_in_transaction(settings, work))))


def _progress(job: dict[str, Any]) -> str:
    return (
        f"{job['program_id']} {job['version']} re-assessment {job['id']}: {job['status']}, "
        f"{job['done']}/{job['total']} done, {job['approved_to_denied']} approved->denied, "
        f"{job['denied_to_approved']} denied->approved, {job['benefit_changed']} benefit changed, "
        f"{job['failed']} failed"
    )


async def _latest_job(connection: AsyncConnection, program_id: str) -> dict[str, Any]:
    jobs = await reassessment_jobs(connection, program_id, 1)
    if not jobs:
        raise ProgramsRefused(f"no re-assessment of program {program_id!r}")
    return jobs[0]


async def _follow(settings: Settings, program_id: str, watch: bool) -> None:
    """Print the latest job's progress; with `watch`, again every second until it is no longer running."""
    engine = create_engine(settings, pool_size=1)
    try:
        while True:
            async with engine.connect() as connection:
                job = await _latest_job(connection, program_id)
            click.echo(_progress(job))
            if not watch or job["status"] != "running":
                return
            await asyncio.sleep(1.0)
    finally:
        await engine.dispose()


@programs.command("reassessment")
@click.argument("program_id", metavar="PROGRAM")
@click.option("--watch", is_flag=True, help="Refresh every second until it is no longer running")
@one_line_errors_for(ProgramsRefused)
def reassessment_command(program_id: str, watch: bool) -> None:
    """The progress of PROGRAM's latest re-assessment: households done, decisions that changed, failures."""
    asyncio.run(_follow(load_settings(), program_id, watch))
