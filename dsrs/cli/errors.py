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

P = ParamSpec("P")
R = TypeVar("R")

EXPECTED_ERRORS: tuple[type[Exception], ...] = (SettingsError, DatabaseUnavailable, SchemaBehind)


def one_line_errors_for(*expected: type[Exception]) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Like `one_line_errors`, for commands that also expect `expected` (a plug-in's own failures)."""
    caught = (*EXPECTED_ERRORS, *expected)

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(command)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return command(*args, **kwargs)
            except caught as error:
                click.echo(f"dsrs: {error}", err=True)
                sys.exit(1)

        return wrapper

    return decorate


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    return one_line_errors_for()(command)
