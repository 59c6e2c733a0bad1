"""`dsrs intake load FILE`: a partner's file of households, checked line by line against the intake
contract, the valid ones published keyed by household id (docs/partners.md)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from aiokafka.errors import KafkaConnectionError

from dsrs.cli.errors import one_line_errors_for
from dsrs.events.publishing import publish
from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.monitoring.trace_context import TRACEPARENT, new_traceparent
from dsrs.registry.intake_file import IntakeFile, NotIntakeFile, Rejected, Skipped, Valid
from dsrs.settings import Settings, load_settings

DEFAULT_SOURCE = "intake-file"


@click.group()
def intake() -> None:
    """Households from partner files onto the intake topic."""


@intake.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Only check the file: publish nothing")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to list the rejected lines (JSON lines); default FILE.rejects.jsonl",
)
@click.option("--source", default=DEFAULT_SOURCE, show_default=True, help="The partner system's name, for `source`")
@one_line_errors_for(NotIntakeFile, KafkaConnectionError)
def load(file: Path, dry_run: bool, rejects: Path | None, source: str) -> None:
    """Check FILE (CSV with a header, or JSON lines) and publish its valid households.

    A record is a household's fields and its household_id; a JSON line may also be a whole intake message.
    Rejected lines are listed with each field's error; blank lines and repeated records are skipped.
    Exits 1 when a line was rejected.
    """
    settings = load_settings()
    outcomes = list(IntakeFile(file, settings.regions, source).outcomes())
    valid = [o for o in outcomes if isinstance(o, Valid)]
    rejected = [o for o in outcomes if isinstance(o, Rejected)]
    skipped = sum(isinstance(o, Skipped) for o in outcomes)
    rejects_path = rejects or file.with_name(f"{file.name}.rejects.jsonl")
    # Written every run, empty when nothing was rejected: an older run's list never passes for this one's.
    rejects_path.write_bytes(b"".join(r.to_json() + b"\n" for r in rejected))
    if dry_run:
        click.echo(f"dry run: {len(valid)} to send, {len(rejected)} rejected, {skipped} skipped; nothing sent")
    else:
        sent = _publish(settings, valid)
        click.echo(f"{sent} sent, {len(rejected)} rejected, {skipped} skipped")
    if rejected:
        click.echo(f"rejected lines and why: {rejects_path}")
        sys.exit(1)


def _publish(settings: Settings, valid: list[Valid]) -> int:
    messages = ((v.key, v.value, [(TRACEPARENT, new_traceparent().encode())]) for v in valid)
    with click.progressbar(length=len(valid), label="sending", file=sys.stderr) as progress:
        return asyncio.run(publish(settings, settings.topic(HOUSEHOLD_INTAKE), messages, progress.update))
