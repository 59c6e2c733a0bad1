"""The DSRS Faust app, and the `dsrs` command line (Faust's own CLI plus DSRS's commands).

Run a worker with `dsrs worker -l info`; see `dsrs --help` for the rest.
"""

from __future__ import annotations

import asyncio
import sys

import faust
import mode.loop

from dsrs.cli import register
from dsrs.db.engine import DatabaseUnavailable, check_connection, create_engine
from dsrs.db.migrations import SchemaBehind, require_current_schema
from dsrs.settings import Settings, SettingsError, load_settings
from dsrs.web.app import web_app_for
from dsrs.worker.app import create_app


def _exit_with(message: str) -> None:
    sys.stderr.write(f"dsrs: {message}\n")
    raise SystemExit(1)


def _load_settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        _exit_with(str(error))
        raise


async def _check_database(settings: Settings) -> None:
    engine = create_engine(settings, pool_size=1)
    try:
        await check_connection(engine, settings)
        await require_current_schema(engine, settings)
    finally:
        await engine.dispose()


def _refuse_outdated_database(settings: Settings) -> None:
    """A worker on a database that is behind its migrations would fail later, on some message; fail now."""
    try:
        asyncio.run(_check_database(settings))
    except (DatabaseUnavailable, SchemaBehind) as error:
        _exit_with(f"worker not started: {error}")


settings = _load_settings_or_exit()
app: faust.App = create_app(settings, web_app_for(settings))


def main() -> None:
    arguments = sys.argv[1:]
    if "worker" in arguments and not {"--help", "-h"} & set(arguments):
        _refuse_outdated_database(settings)
        # libuv's loop runs the worker's many small callbacks for less CPU than asyncio's (docs/performance.md).
        mode.loop.use("uvloop")
    from faust.cli.faust import cli

    register(cli)
    app.main()


if __name__ == "__main__":
    main()
