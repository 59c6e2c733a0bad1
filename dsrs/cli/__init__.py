"""DSRS's own commands, beside Faust's (`dsrs worker`, `dsrs agents`, ...)."""

from __future__ import annotations

import click

from dsrs.cli.bench import bench
from dsrs.cli.db import db
from dsrs.cli.demo import demo
from dsrs.cli.dlq import dlq
from dsrs.cli.payments import payments
from dsrs.cli.stack import stack
from dsrs.cli.token import token

COMMANDS: list[click.Command] = [stack, db, demo, token, payments, dlq, bench]


def register(group: click.Group) -> None:
    for command in COMMANDS:
        group.add_command(command)
