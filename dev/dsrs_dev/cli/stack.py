"""`dsrs stack up | down | status`: the local Kafka, PostgreSQL and Mongo-protocol servers."""

from __future__ import annotations

import click

from dsrs.settings import load_settings
from dsrs_dev.errors import one_line_errors
from dsrs_dev.stack.manager import Stack


@click.group()
def stack() -> None:
    """Run the local servers DSRS needs, without Docker (data under DSRS_CACHE_DIR)."""


@stack.command()
@click.option(
    "--brokers",
    type=click.IntRange(1, 5),
    default=1,
    show_default=True,
    help="Kafka nodes, on DSRS_KAFKA_URL's port and the port pairs after it (9092, 9094, 9096 ...).",
)
@one_line_errors
def up(brokers: int) -> None:
    """Install (first time only) and start every server; a running stack is left as it is."""
    Stack(load_settings(), brokers).up(report=click.echo)


@stack.command()
@one_line_errors
def down() -> None:
    """Stop the servers this stack started, and only those."""
    Stack(load_settings()).down(report=click.echo)


@stack.command()
@one_line_errors
def status() -> None:
    """Show each server with its address, pid and state."""
    parts = Stack(load_settings()).status()
    click.echo(f"{'part':<9} {'state':<10} {'address':<22} pid")
    for part in parts:
        click.echo(f"{part.name:<9} {part.state:<10} {part.address:<22} {part.pid or '-'}")
