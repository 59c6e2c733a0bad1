"""The async engine every part of DSRS shares, and a readable error when it cannot connect."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dsrs.db.json_text import json_text
from dsrs.settings import Settings
from dsrs.transport_security import database_connect_args


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached or refused us; the message says where and why."""


def socket_file(folder: Path, port: int) -> Path:
    """The Unix socket a PostgreSQL server listening on `port` makes in `folder` (libpq's and asyncpg's name)."""
    return folder / f".s.PGSQL.{port}"


def connect_args(settings: Settings) -> dict[str, Any]:
    """asyncpg's arguments beyond the URL: TLS over TCP, or the Unix socket that replaces TCP.

    Through a Unix socket the kernel does far less per byte than through loopback TCP, and the saga
    writes every event to PostgreSQL more than once (docs/performance.md).
    """
    if settings.database_socket_dir is not None:
        # asyncpg takes a folder as the host, and connects to its socket for the URL's port.
        return {"host": str(settings.database_socket_dir)}
    return database_connect_args(settings)


def create_engine(settings: Settings, pool_size: int = 10, pre_ping: bool = True) -> AsyncEngine:
    """`pre_ping` checks each connection as it leaves the pool (a round trip, and CPU), so that
    the first use after a database restart does not fail. Callers that retry a dropped connection anyway
    can do without it."""
    return create_async_engine(
        settings.database_url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        connect_args=connect_args(settings),
        # A statement's parameters carry personal data: an error's text must never show them.
        hide_parameters=True,
        # JSONB columns are read and written for every event (the outbox's payloads and headers).
        json_serializer=json_text,
        json_deserializer=orjson.loads,
    )


def describe_connection_error(settings: Settings, error: BaseException) -> str:
    host, port = settings.database_address
    where = f"{host}:{port} (DSRS_DATABASE_URL)"
    if settings.database_socket_dir is not None:
        where = f"{socket_file(settings.database_socket_dir, port)} (DSRS_DATABASE_SOCKET_DIR)"
    reason = getattr(error, "orig", None) or error
    return f"cannot use PostgreSQL at {where}: {type(reason).__name__}: {reason}".strip()


async def check_connection(engine: AsyncEngine, settings: Settings, within_seconds: float = 10.0) -> None:
    """Raise DatabaseUnavailable with one clear line unless a query goes through."""
    try:
        async with asyncio.timeout(within_seconds):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except (OSError, socket.gaierror, OperationalError, DBAPIError, TimeoutError) as error:
        raise DatabaseUnavailable(describe_connection_error(settings, error)) from error
