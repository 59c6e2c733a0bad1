"""Integration tests run against the real local stack: started here if it is not running yet.

They use their own database (the configured one with `_test` appended) so that they never
touch a demo's data, and their own Kafka topics.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db import migrations
from dsrs.db.engine import create_engine
from dsrs.settings import Settings, load_settings
from dsrs_dev.bench.environment import with_database
from dsrs_dev.stack.manager import Stack
from dsrs_dev.worker_process import worker_env

pytestmark = pytest.mark.integration


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child `dsrs` process use these settings."""
    return {**os.environ, **worker_env(settings)}


async def broker_topics(settings: Settings, prefix: str = "") -> set[str]:
    """The names of the broker's topics that start with `prefix`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        return {name for name in await admin.list_topics() if name.startswith(prefix)}
    finally:
        await admin.close()


def run_dsrs(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "dsrs"
    return subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def settings(base_settings: Settings) -> Settings:
    database = urlsplit(base_settings.database_url).path.strip("/")
    return with_database(base_settings, f"{database}_test").model_copy(update={"mongo_database": "dsrs_test"})


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Stack:
    stack = Stack(settings)
    stack.up(report=lambda line: None)
    return stack


@pytest.fixture(scope="session")
def migrated(stack: Stack, settings: Settings) -> Settings:
    migrations.migrate(settings)
    return settings


@pytest.fixture(scope="session")
async def engine(migrated: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated)
    yield engine
    await engine.dispose()


@pytest.fixture
async def topic(stack: Stack, settings: Settings) -> AsyncIterator[str]:
    """A topic of four partitions of its own, deleted afterwards."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 4, 1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()
