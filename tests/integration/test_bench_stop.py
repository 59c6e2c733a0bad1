"""A benchmark stopped by SIGTERM stops its workers and removes what it made: its databases and its topics."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from dsrs.db.engine import create_engine
from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from tests.integration.conftest import broker_topics

pytestmark = pytest.mark.integration


async def _databases(settings: Settings) -> set[str]:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            names = await connection.scalars(text("SELECT datname FROM pg_database WHERE datname LIKE 'dsrs_bench%'"))
            return set(names)
    finally:
        await engine.dispose()


def _wait_for(made: Callable[[], bool], what: str, process: subprocess.Popen[bytes], seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not made():
        assert process.poll() is None, f"the benchmark ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {seconds:.0f}s"
        time.sleep(0.5)


def test_a_benchmark_stopped_by_sigterm_leaves_no_database_or_topic(
    stack: Stack, migrated: Settings, tmp_path: Path
) -> None:
    databases, topics = asyncio.run(_databases(migrated)), asyncio.run(broker_topics(migrated, "bench-"))
    script = Path(sys.executable).parent / "dsrs"
    process = subprocess.Popen(
        [str(script), "bench", "saga", "--households", "200000", "--warm-up", "0"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Stopped once its worker has made the deployment's topics, while the saga runs.
        _wait_for(lambda: bool(asyncio.run(broker_topics(migrated, "bench-")) - topics), "topics", process)
        _wait_for(lambda: bool(asyncio.run(_databases(migrated)) - databases), "database", process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()

    assert asyncio.run(_databases(migrated)) == databases
    assert asyncio.run(broker_topics(migrated, "bench-")) <= topics
