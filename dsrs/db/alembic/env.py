"""Alembic environment: runs migrations over asyncpg against DSRS's database URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dsrs.db.engine import create_engine
from dsrs.db.schema import metadata
from dsrs.settings import load_settings


def _configured_url() -> str | None:
    # `dsrs db upgrade` passes the URL it was configured with; the alembic CLI has none of its own.
    return context.config.get_main_option("sqlalchemy.url")


def _database_url() -> str:
    return _configured_url() or load_settings().database_url


def _engine() -> AsyncEngine:
    configured = _configured_url()
    if configured:
        return create_async_engine(configured)
    # The alembic CLI with no URL of its own connects as DSRS does: over TLS, or through the Unix socket,
    # when the DSRS_DATABASE_* settings say so. By URL alone it would ignore both.
    return create_engine(load_settings(), pool_size=1)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = _engine()
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


# `dsrs db upgrade` and the tests hand over a connection of their own event loop.
given_connection = context.config.attributes.get("connection")

if given_connection is not None:
    _run(given_connection)
elif context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
