"""The development commands that join `dsrs` through the `dsrs.commands` entry point."""

from __future__ import annotations

import click

from dsrs_dev.cli.bench import bench
from dsrs_dev.cli.demo import demo
from dsrs_dev.cli.stack import stack

COMMANDS: list[click.Command] = [stack, demo, bench]
