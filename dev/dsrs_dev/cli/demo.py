"""`dsrs demo`: the main job. Stack up, schema migrated, a worker running the saga on synthetic households."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
import urllib.request
from typing import Any

import click
from tqdm import tqdm

from dsrs.auth.local import issue_token
from dsrs.auth.roles import Role
from dsrs.db import migrations
from dsrs.db.engine import create_engine
from dsrs.dlq.depth import dead_letter_depths
from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings, load_settings
from dsrs.transport_security import kafka_client_options
from dsrs_dev.errors import one_line_errors
from dsrs_dev.partner import publish_intake
from dsrs_dev.progress import advancer
from dsrs_dev.saga_status import SagaStatus, saga_status
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import synthetic_intake
from dsrs_dev.worker_process import WorkerFailed, WorkerProcess, worker_env

DEMO_PAYMENTS = {"DSRS_PAYMENT_SEND_AHEAD_DAYS": "62", "DSRS_PAYMENT_RETRY_BASE_SECONDS": "1"}


async def _wait_until_settled(settings: Settings, households: int, programs: int, limit_seconds: float) -> SagaStatus:
    engine = create_engine(settings, pool_size=1)
    deadline = time.monotonic() + limit_seconds
    try:
        with tqdm(total=households * programs, desc="assessed", unit="decision") as progress:
            while True:
                status = await saga_status(engine)
                progress.n = min(status.assessed, households * programs)
                progress.set_postfix(payments=status.payments, outbox=status.outbox_pending)
                progress.refresh()
                if status.settled(households, programs):
                    return status
                if time.monotonic() > deadline:
                    raise WorkerFailed(f"the saga had not settled after {limit_seconds:.0f}s: {status}")
                await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


async def _status(settings: Settings) -> SagaStatus:
    engine = create_engine(settings, pool_size=1)
    try:
        return await saga_status(engine)
    finally:
        await engine.dispose()


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - our http:// URL
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.load(response)


def _run_saga(settings: Settings, worker: WorkerProcess, households: int) -> None:
    programs = len(active_programs(load_programs(settings.programs_dir)))
    # A new seed each run: every demo adds new households to whatever the registry already holds.
    messages = list(synthetic_intake(households, settings.regions, seed=time.time_ns()))
    valid_ids = {m.household_id for m in messages if m.valid}
    before = asyncio.run(_status(settings))
    intake_topic = settings.topic(HOUSEHOLD_INTAKE)
    with tqdm(total=len(messages), desc="published", unit="household") as progress:
        asyncio.run(publish_intake(settings, messages, advancer(progress), topic=intake_topic))
    expected = before.households + len(valid_ids)
    status = asyncio.run(_wait_until_settled(settings, expected, programs, limit_seconds=600))
    token = issue_token(settings, [Role.AUDITOR], ttl_seconds=8 * 3600, subject="demo-auditor")
    summary = _get(f"{worker.base_url}/api/v1/analytics/summary", token)
    depths = asyncio.run(
        dead_letter_depths(settings.bootstrap_servers, settings.topic_prefix, **kafka_client_options(settings))
    )
    click.echo("\nKPI summary (GET /api/v1/analytics/summary):")
    names = ("assessed", "approved", "denied", "approval_rate", "payments_scheduled", "amount_scheduled")
    for name in (*names, "payments_completed", "payments_failed"):
        click.echo(f"  {name:<20} {summary[name]}")
    for program_id, totals in summary["by_program"].items():
        click.echo(f"  {program_id:<20} approved {totals['approved']} of {totals['assessed']}")
    click.echo(f"households in the registry: {status.households}; payments scheduled: {status.payments}")
    click.echo(f"dead letters: {sum(depths.values())} {depths}")
    # The token rides in the fragment, which the browser never sends; the page moves it to the tab's storage.
    click.echo(f"live page, signed in as the demo's auditor for 8 hours:\n  {worker.base_url}/ui/#token={token}")
    click.echo("look at (an auditor's token for 8 hours; `dsrs token issue --role ROLE` mints others):")
    click.echo(f"  export DSRS_TOKEN={token}")
    for path in ("/api/v1/analytics/summary", "/api/v1/analytics/windows?granularity=minute", "/api/v1/households"):
        click.echo(f'  curl -H "Authorization: Bearer $DSRS_TOKEN" {worker.base_url}{path}')


@click.command()
@click.option("--households", default=1000, show_default=True, help="How many synthetic households to submit.")
@click.option("--keep-running/--exit-when-done", default=True, help="Keep the worker serving after the summary.")
@one_line_errors
def demo(households: int, keep_running: bool) -> None:
    """Bring up the stack, migrate, start a worker and run the saga on synthetic households."""
    stack = Stack(load_settings())
    stack.up(report=click.echo)
    settings = stack.local_settings(stack.settings)
    migrations.migrate(settings)
    # The demo runs the whole payment lifecycle now, rather than on next month's due dates.
    lifecycle = {name: value for name, value in DEMO_PAYMENTS.items() if name not in os.environ}
    log_path = settings.cache_dir / "logs" / "demo-worker.log"
    worker = WorkerProcess(settings, log_path, env=worker_env(settings, lifecycle))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker.start()
    try:
        click.echo(f"worker starting, log {worker.log_path}")
        worker.wait_ready()
        click.echo(f"worker ready at {worker.base_url}")
        _run_saga(settings, worker, households)
        if keep_running:
            click.echo("Ctrl-C stops the worker; `dsrs stack down` stops the servers.")
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        click.echo("stopping the worker ...")
        worker.stop()
        click.echo("worker stopped")
