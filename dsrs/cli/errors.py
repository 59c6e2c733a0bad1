"""Expected failures end a command with one readable line and exit status 1, never a traceback."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click

from dsrs.db.engine import DatabaseUnavailable
from dsrs.db.migrations import SchemaBehind
from dsrs.settings import SettingsError
from dsrs.stack.component import StackError
from dsrs.worker_process import WorkerFailed

P = ParamSpec("P")
R = TypeVar("R")

EXPECTED_ERRORS = (SettingsError, StackError, DatabaseUnavailable, SchemaBehind, WorkerFailed)


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except EXPECTED_ERRORS as error:
            click.echo(f"dsrs: {error}", err=True)
            sys.exit(1)

    return wrapper
