"""Reaching the local stack's PostgreSQL through its Unix socket: the engine, the relay's listener, a worker,
and the alembic command line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from dsrs.db.engine import connect_args, create_engine
from dsrs.db.migrations import head_revision
from dsrs.outbox.notify import OUTBOX_CHANNEL, OutboxListener
from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from dsrs_dev.worker_process import worker_env

ROOT = Path(__file__).resolve().parents[2]


async def _server_address(settings: Settings) -> str | None:
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.connect() as connection:
            # PostgreSQL's own view of the connection: no address when it came through a Unix socket.
            address: str | None = (await connection.execute(text("SELECT host(inet_server_addr())"))).scalar_one()
            return address
    finally:
        await engine.dispose()


async def test_the_stacks_settings_reach_its_postgres_through_the_socket(stack: Stack, migrated: Settings) -> None:
    local = stack.local_settings(migrated)
    assert local.database_socket_dir == stack.postgres.socket_dir
    assert worker_env(local)["DSRS_DATABASE_SOCKET_DIR"] == str(stack.postgres.socket_dir)
    assert await _server_address(migrated) == "127.0.0.1"
    assert await _server_address(local) is None


async def test_the_relays_listener_hears_notifications_through_the_socket(stack: Stack, migrated: Settings) -> None:
    local = stack.local_settings(migrated)
    heard = asyncio.Event()
    stopping = asyncio.Event()
    listener = OutboxListener(local.database_url, heard.set, connect_args=connect_args(local))
    listening = asyncio.ensure_future(listener.run(stopping))
    engine = create_engine(local, pool_size=1)
    try:
        async with asyncio.timeout(30):
            while not heard.is_set():
                # Repeated: the listener may not have subscribed yet when the first one is sent.
                async with engine.begin() as connection:
                    await connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": OUTBOX_CHANNEL})
                await asyncio.sleep(0.1)
        async with engine.connect() as connection:
            through_socket = await connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' "
                    "AND client_addr IS NULL AND pid <> pg_backend_pid()"
                )
            )
            assert through_socket.scalar_one() == 1
    finally:
        stopping.set()
        await listening
        await engine.dispose()


def test_settings_that_choose_their_route_are_left_as_they_are(stack: Stack, migrated: Settings) -> None:
    encrypted = migrated.model_copy(update={"database_ssl": "require"})
    assert stack.local_settings(encrypted) is encrypted
    elsewhere = migrated.model_copy(update={"database_url": migrated.database_url.replace("127.0.0.1", "db.example")})
    assert stack.local_settings(elsewhere) is elsewhere


def test_the_alembic_command_line_connects_as_dsrs_does(stack: Stack, migrated: Settings) -> None:
    local = stack.local_settings(migrated)
    # A host no resolver knows: only the socket from DSRS_DATABASE_SOCKET_DIR can reach the server.
    unreachable = make_url(local.database_url).set(host="db.invalid").render_as_string(hide_password=False)
    env = {**os.environ, **worker_env(local.model_copy(update={"database_url": unreachable}))}
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "current"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"{head_revision(local)} (head)" in result.stdout
