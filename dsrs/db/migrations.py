"""Schema migrations by Alembic only: apply them, and tell whether a database is up to date."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db.engine import check_connection, create_engine
from dsrs.settings import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "alembic"
UPGRADE_COMMAND = "dsrs db upgrade"


class SchemaBehind(RuntimeError):
    """The database has not had every migration applied."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would read a '%' in a password as a placeholder.
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return config


def head_revision(settings: Settings) -> str:
    head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def _with_connection(engine: AsyncEngine, settings: Settings, step: Callable[[Config], None]) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config(settings)
        config.attributes["connection"] = connection
        step(config)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def upgrade(engine: AsyncEngine, settings: Settings, revision: str = "head") -> None:
    await _with_connection(engine, settings, lambda config: command.upgrade(config, revision))


async def downgrade(engine: AsyncEngine, settings: Settings, revision: str) -> None:
    await _with_connection(engine, settings, lambda config: command.downgrade(config, revision))


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def schema_state(engine: AsyncEngine, settings: Settings) -> SchemaState:
    async with engine.connect() as connection:
        current = await connection.run_sync(_current_revision)
    return SchemaState(current=current, head=head_revision(settings))


async def require_current_schema(engine: AsyncEngine, settings: Settings) -> None:
    state = await schema_state(engine, settings)
    if not state.up_to_date:
        raise SchemaBehind(
            f"the database is at migration {state.current or 'none'} but this code needs {state.head}; "
            f"run `{UPGRADE_COMMAND}` first"
        )


async def _open_and(settings: Settings, step: Callable[[AsyncEngine], Awaitable[None]]) -> SchemaState:
    engine = create_engine(settings, pool_size=1)
    try:
        await check_connection(engine, settings)
        await step(engine)
        return await schema_state(engine, settings)
    finally:
        await engine.dispose()


def migrate(settings: Settings, revision: str = "head") -> SchemaState:
    """For commands: connect, apply migrations up to `revision`, and say where the database is now."""
    return asyncio.run(_open_and(settings, lambda engine: upgrade(engine, settings, revision)))


def inspect_schema(settings: Settings) -> SchemaState:
    async def nothing(engine: AsyncEngine) -> None:
        return None

    return asyncio.run(_open_and(settings, nothing))
