"""`dsrs payments reconcile STATEMENT.csv`: match a provider statement against our payments.
`dsrs payments cycle open PROGRAM [CYCLE]`: open a payment cycle (the next one by default)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import click

from dsrs.cli.errors import one_line_errors, one_line_errors_for
from dsrs.db.engine import create_engine
from dsrs.payment.opening import CycleOpened, CycleRefused, CycleTerms, next_cycle, open_cycle
from dsrs.payment.reconciliation import InvalidStatement, Report, StatementLine, parse_csv, reconcile
from dsrs.programs.catalog import ProgramCatalog
from dsrs.rules import ProgramError
from dsrs.settings import Settings, load_settings


async def _reconcile(settings: Settings, lines: list[StatementLine], name: str, as_of: date) -> Report:
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.begin() as connection:
            return await reconcile(connection, lines, f"file {name}", as_of)
    finally:
        await engine.dispose()


@click.group()
def payments() -> None:
    """Payments: cycles, and reconciliation against provider statements."""


@payments.command()
@click.argument("statement", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Deadline check date")
@one_line_errors
def reconcile_command(statement: Path, as_of: datetime | None) -> None:
    """Reconcile STATEMENT.csv (reference,amount,currency,status,settled_at) and list the mismatches."""
    day = as_of.date() if as_of else datetime.now(UTC).date()
    try:
        lines = parse_csv(statement.read_text())
        report = asyncio.run(_reconcile(load_settings(), lines, statement.name, day))
    except InvalidStatement as invalid:
        raise click.ClickException(str(invalid)) from None
    click.echo(
        f"run {report.run_id}: {report.lines} lines, {report.matched} matched, {len(report.mismatches)} mismatches"
    )
    for mismatch in report.mismatches:
        target = mismatch.reference or mismatch.payment_id
        click.echo(f"  {mismatch.kind:<24} {target}  {mismatch.details}")


reconcile_command.name = "reconcile"


@payments.group()
def cycle() -> None:
    """Payment cycles: one payment per eligible household, program and cycle."""


async def _open(settings: Settings, program_id: str, name: str | None) -> CycleOpened:
    today = date.today()
    terms = CycleTerms(settings.payment_settlement_days, settings.payment_max_attempts, settings.source_name)
    engine = create_engine(settings, pool_size=1)
    try:
        # The deployed programs, as the workers decide with them: not the files beside this command.
        async with engine.connect() as connection:
            programs = await ProgramCatalog().active(connection)
        if program_id not in programs:
            raise CycleRefused(f"no active program {program_id!r}; known: {', '.join(sorted(programs))}")
        program = programs[program_id]
        return await open_cycle(engine, program, name or next_cycle(program, today), today, terms, "cli")
    finally:
        await engine.dispose()


@cycle.command("open")
@click.argument("program")
@click.argument("cycle_name", metavar="[CYCLE]", required=False)
@one_line_errors_for(CycleRefused, ProgramError)
def open_command(program: str, cycle_name: str | None) -> None:
    """Open PROGRAM's CYCLE (YYYY-MM; default: the next one): pay every household eligible now."""
    opened = asyncio.run(_open(load_settings(), program, cycle_name))
    if opened.already_open:
        click.echo(f"{opened.program_id} {opened.cycle} (due {opened.due_date}) was already open: nothing created")
    else:
        click.echo(f"{opened.program_id} {opened.cycle} (due {opened.due_date}) opened: {opened.created} payments")
