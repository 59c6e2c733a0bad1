"""`dsrs demo`: the main job. Stack up, schema migrated, a worker running, until Ctrl-C."""

from __future__ import annotations

import signal
import threading

import click

from dsrs.cli.errors import one_line_errors
from dsrs.db import migrations
from dsrs.settings import load_settings
from dsrs.stack.manager import Stack
from dsrs.worker_process import WorkerProcess


@click.command()
@click.option("--households", default=1000, show_default=True, help="How many synthetic households to register.")
@click.option("--keep-running/--exit-when-done", default=True, help="Keep the worker serving after the summary.")
@one_line_errors
def demo(households: int, keep_running: bool) -> None:
    """Bring up the stack, migrate, start a worker and run the saga on synthetic households."""
    settings = load_settings()
    Stack(settings).up(report=click.echo)
    migrations.migrate(settings)
    worker = WorkerProcess(settings, settings.cache_dir / "logs" / "demo-worker.log")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker.start()
    try:
        click.echo(f"worker starting, log {worker.log_path}")
        worker.wait_ready()
        click.echo(f"worker ready: {worker.base_url}/health/ready")
        if keep_running:
            click.echo("Ctrl-C stops the worker; `dsrs stack down` stops the servers.")
            stop.wait()
    finally:
        click.echo("stopping the worker ...")
        worker.stop()
        click.echo("worker stopped")
