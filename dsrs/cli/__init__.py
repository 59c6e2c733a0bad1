"""DSRS's own commands, beside Faust's (`dsrs worker`, `dsrs agents`, ...).

Other installed distributions add theirs through the `dsrs.commands` entry-point group: the
development tooling (`dev/`, distribution `dsrs-dev`) adds `dsrs stack`, `dsrs demo` and `dsrs bench`.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import click

from dsrs.cli.db import db
from dsrs.cli.dlq import dlq
from dsrs.cli.intake import intake
from dsrs.cli.payments import payments
from dsrs.cli.programs import programs
from dsrs.cli.token import token

COMMANDS: list[click.Command] = [db, token, payments, dlq, programs, intake]
PLUGIN_GROUP = "dsrs.commands"


def plugin_commands() -> list[click.Command]:
    commands: list[click.Command] = []
    for entry_point in entry_points(group=PLUGIN_GROUP):
        loaded = entry_point.load()
        commands.extend(loaded if isinstance(loaded, list | tuple) else [loaded])
    return commands


def register(group: click.Group) -> None:
    for command in [*COMMANDS, *plugin_commands()]:
        group.add_command(command)
