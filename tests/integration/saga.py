"""A worker of its own for saga tests: its own database, topics, consumer group, tables and port."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.auth.local import issue_token
from dsrs.auth.roles import Role
from dsrs.events.topics import DEAD_LETTER_TOPICS, SAGA_TOPICS
from dsrs.kafka_lag import consumer_lag
from dsrs.saga_status import SagaStatus, saga_status
from dsrs.settings import Settings
from dsrs.worker_process import WorkerProcess
from tests.integration.conftest import settings_env

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_settings(settings: Settings, database_url: str, data_dir: Path) -> Settings:
    tag = uuid.uuid4().hex[:8]
    return settings.model_copy(
        update={
            "database_url": database_url,
            "topic_prefix": f"test-{tag}.",
            "app_id": f"dsrs-test-{tag}",
            "data_dir": data_dir,
            "web_port": free_port(),
            "mongo_database": f"dsrs_test_{tag}",
            "jwt_secret": f"saga-test-secret-{uuid.uuid4().hex}",
        }
    )


def worker_env(settings: Settings) -> dict[str, str]:
    return {
        **settings_env(settings),
        "DSRS_TOPIC_PREFIX": settings.topic_prefix,
        "DSRS_APP_ID": settings.app_id,
        "DSRS_DATA_DIR": str(settings.worker_data_dir),
        "DSRS_WEB_PORT": str(settings.web_port),
        "DSRS_JWT_SECRET": settings.jwt_secret or "",
    }


@dataclass
class SagaWorker:
    settings: Settings
    log_path: Path

    def __post_init__(self) -> None:
        self.process = WorkerProcess(self.settings, self.log_path, env=worker_env(self.settings))

    @property
    def base_url(self) -> str:
        return self.process.base_url

    def start(self) -> None:
        self.process = WorkerProcess(self.settings, self.log_path, env=worker_env(self.settings))
        self.process.start()
        self.process.wait_ready()

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        self.process.kill()

    def client(self, *roles: Role) -> httpx.AsyncClient:
        """An API client holding a token with these roles."""
        token = issue_token(self.settings, list(roles), ttl_seconds=3600, subject=f"test-{roles[0].value}")
        return httpx.AsyncClient(base_url=self.base_url, headers={"Authorization": f"Bearer {token}"})

    @property
    def topics(self) -> list[str]:
        return [self.settings.topic(name) for name in SAGA_TOPICS]

    @property
    def dead_letter_topics(self) -> list[str]:
        return [self.settings.topic(name) for name in DEAD_LETTER_TOPICS]

    async def lag(self) -> int:
        lags = await consumer_lag(self.settings.bootstrap_servers, self.settings.app_id, self.topics)
        return sum(lags.values())


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], limit_seconds: float = 240.0) -> T:
    """Poll until `done` holds; the timeout only bounds a broken run, it asserts nothing about speed."""
    deadline = time.monotonic() + limit_seconds
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {limit_seconds:.0f}s; last seen {value}")
        await asyncio.sleep(0.5)


async def settled(engine: AsyncEngine, worker: SagaWorker, households: int, programs: int) -> SagaStatus:
    """The saga has processed everything there is: statuses agree and no consumer lags behind."""

    async def probe() -> tuple[SagaStatus, int]:
        return await saga_status(engine), await worker.lag()

    status, _ = await eventually(probe, lambda seen: seen[0].settled(households, programs) and seen[1] == 0)
    return status
