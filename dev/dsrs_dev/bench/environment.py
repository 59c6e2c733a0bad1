"""A deployment of its own on the local stack: a fresh database, topics, consumer group and workers.

Used by the benchmark (and the integration tests) so that a run measures only its own households.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dsrs.db import migrations
from dsrs.kafka.admin import delete_deployment_topics
from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from dsrs_dev.worker_process import WorkerProcess, worker_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def with_database(settings: Settings, database: str) -> Settings:
    parts = urlsplit(settings.database_url)
    return settings.model_copy(update={"database_url": urlunsplit(parts._replace(path=f"/{database}"))})


def isolated_settings(settings: Settings, database: str, data_dir: Path, tag: str | None = None) -> Settings:
    tag = tag or uuid.uuid4().hex[:8]
    return with_database(settings, database).model_copy(
        update={
            "topic_prefix": f"{tag}.",
            "app_id": f"dsrs-{tag}",
            "data_dir": data_dir,
            "web_port": free_port(),
            "mongo_database": f"dsrs_{tag.replace('-', '_')}",
            "jwt_secret": settings.jwt_secret or f"isolated-secret-{uuid.uuid4().hex}",
        }
    )


@contextmanager
def isolated_database(stack: Stack, settings: Settings, prefix: str = "dsrs_iso") -> Iterator[str]:
    database = f"{prefix}_{uuid.uuid4().hex[:8]}"
    stack.postgres.ensure_database(urlsplit(settings.database_url).username or "postgres", database)
    try:
        migrations.migrate(with_database(settings, database))
        yield database
    finally:
        stack.postgres.drop_database(database)


def delete_topics_of(settings: Settings) -> None:
    """Delete an isolated deployment's topics, from inside an event loop or outside one. A failure is told on
    stderr, not raised: a broker that went away meanwhile must not hide a run's figures or a test's outcome."""
    failure: list[BaseException] = []

    def delete() -> None:
        try:
            asyncio.run(delete_deployment_topics(settings))
        except Exception as error:
            failure.append(error)

    deleting = threading.Thread(target=delete, name="delete-topics")
    deleting.start()
    deleting.join()
    if failure:
        error = failure[0]
        print(f"dsrs: could not delete the deployment's topics ({type(error).__name__}: {error})", file=sys.stderr)


def start_workers(settings: Settings, count: int, folder: Path, extra_env: dict[str, str]) -> list[WorkerProcess]:
    """`count` workers of one deployment: one consumer group, each with its own tables and port."""
    workers = []
    for number in range(count):
        own = (
            settings
            if number == 0
            else settings.model_copy(update={"web_port": free_port(), "data_dir": folder / f"worker-{number}"})
        )
        worker = WorkerProcess(own, folder / f"worker-{number}.log", env=worker_env(own, extra_env))
        worker.start()
        workers.append(worker)
    try:
        for worker in workers:
            worker.wait_ready()
    except BaseException:
        # One that did not start leaves none running.
        for worker in workers:
            worker.stop()
        raise
    return workers
