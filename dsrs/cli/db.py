"""`dsrs db upgrade | status`: the schema, by Alembic migrations only."""

from __future__ import annotations

import click

from dsrs.cli.errors import one_line_errors
from dsrs.db import migrations
from dsrs.settings import load_settings


@click.group()
def db() -> None:
    """Migrate the PostgreSQL schema (DSRS_DATABASE_URL)."""


@db.command()
@click.argument("revision", default="head")
@one_line_errors
def upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    state = migrations.migrate(load_settings(), revision)
    click.echo(f"database at migration {state.current}")


@db.command()
@one_line_errors
def status() -> None:
    """Show the database's migration and the newest this code has."""
    state = migrations.inspect_schema(load_settings())
    verdict = "up to date" if state.up_to_date else f"behind: run `{migrations.UPGRADE_COMMAND}`"
    click.echo(f"current {state.current or 'none'}, head {state.head}: {verdict}")
