"""The DSRS Faust app, and the `dsrs` command line (Faust's own CLI plus DSRS's commands).

Run a worker with `dsrs worker -l info`; see `dsrs --help` for the rest.
"""

from __future__ import annotations

import asyncio
import sys

import faust
import mode.loop

from dsrs.app import create_app
from dsrs.cli import register
from dsrs.cpu_affinity import machine_cpus, place_this_thread
from dsrs.db.engine import DatabaseUnavailable, check_connection, create_engine
from dsrs.db.migrations import SchemaBehind, require_current_schema
from dsrs.settings import Settings, SettingsError, load_settings


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


def _place_worker(settings: Settings) -> None:
    """On the cores DSRS_WORKER_CPUS names, before Faust starts its threads: they inherit it."""
    if not settings.worker_cpus:
        return
    unusable = sorted(set(settings.worker_cpus) - machine_cpus())
    if unusable:
        _exit_with(
            f"worker not started: DSRS_WORKER_CPUS names cores {unusable}, "
            f"but this process may only use {sorted(machine_cpus())}"
        )
    place_this_thread(settings.worker_cpus)


settings = _load_settings_or_exit()
app: faust.App = create_app(settings)


def main() -> None:
    if "worker" in sys.argv[1:]:
        _place_worker(settings)
        _refuse_outdated_database(settings)
        # Faust's Kafka consumer runs in a thread of its own, which waits up to the GIL's switch interval
        # (5 ms) whenever the event loop's thread holds it. The worker once set 0.5 ms: messages then took
        # 1-2 s to reach the agents at 237 households/s offered. Since fetches no longer stall
        # (dsrs.streams.fetching, dsrs.streams.buffers) the default is better: A/B on 40,000 households,
        # 5 ms against 0.5 ms, the worker took 362-422 against 390-425 us of CPU a household at full
        # speed, p99 was 0.47 against 0.65 s at 1,000/s offered and 0.24 against 0.26 s at 250/s.
        # libuv's loop, in C, runs the worker's many small callbacks and socket reads for less CPU than
        # asyncio's: four A/B pairs of 60,000 households in one hour gave 1,714-1,910/s with asyncio's
        # loop and 1,735-1,944/s with uvloop, every pair in uvloop's favour (about 2.5%).
        mode.loop.use("uvloop")
    from faust.cli.faust import cli

    register(cli)
    app.main()


if __name__ == "__main__":
    main()
