"""`dsrs payments reconcile STATEMENT.csv`: match a provider statement against our payments."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import click

from dsrs.cli.errors import one_line_errors
from dsrs.db.engine import create_engine
from dsrs.payment.reconciliation import InvalidStatement, Report, StatementLine, parse_csv, reconcile
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
    """Payments: reconciliation against provider statements."""


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
