"""`dsrs stack up | status | down` on a second, throw-away stack beside the one the other tests use.

It shares the installed servers (the `dist` folder) with the main cache, so it starts in seconds,
but has its own data, logs, pid files and ports.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

import asyncpg
import pytest

from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from dsrs_dev.stack.postgres import SERVER_SETTINGS, SUPERUSER
from tests.integration.conftest import run_dsrs, settings_env

pytestmark = pytest.mark.integration


def _free_port_pair() -> int:
    """A free port whose successor is free too: Kafka's controller listens on port + 1."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no two adjacent free ports")


def _processes_under(folder: Path) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if str(folder) in line and "ps -eo" not in line]


def _server_settings(port: int) -> dict[str, str]:
    async def show() -> dict[str, str]:
        connection = await asyncpg.connect(host="127.0.0.1", port=port, user=SUPERUSER, database="postgres")
        try:
            return {name: str(await connection.fetchval(f"SHOW {name}")) for name in SERVER_SETTINGS}
        finally:
            await connection.close()

    return asyncio.run(show())


def test_up_twice_leaves_one_stack_and_down_leaves_no_process(stack: Stack, settings: Settings, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "dist").symlink_to(settings.cache_dir / "dist", target_is_directory=True)
    kafka_port, postgres_port, mongo_port = _free_port_pair(), _free_port_pair(), _free_port_pair()
    own = settings.model_copy(
        update={
            "cache_dir": cache,
            "kafka_url": f"kafka://127.0.0.1:{kafka_port}",
            "database_url": f"postgresql+asyncpg://postgres@127.0.0.1:{postgres_port}/dsrs",
            "mongo_url": f"mongodb://127.0.0.1:{mongo_port}/",
        }
    )
    env = settings_env(own)
    try:
        first = run_dsrs("stack", "up", env=env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.count("started") == 3, first.stdout
        pids = {part.name: part.pid for part in Stack(own).status()}
        assert _server_settings(postgres_port) == SERVER_SETTINGS

        second = run_dsrs("stack", "up", env=env)
        assert second.returncode == 0, second.stderr
        assert "started" not in second.stdout
        assert second.stdout.count("running") == 3
        assert {part.name: part.pid for part in Stack(own).status()} == pids

        status = run_dsrs("stack", "status", env=env)
        assert status.returncode == 0, status.stderr
        for name, port in (("kafka", kafka_port), ("postgres", postgres_port), ("ferretdb", mongo_port)):
            line = next(line for line in status.stdout.splitlines() if line.startswith(name))
            assert "running" in line
            assert f"127.0.0.1:{port}" in line
            assert str(pids[name]) in line
    finally:
        down = run_dsrs("stack", "down", env=env)
    assert down.returncode == 0, down.stderr
    assert _processes_under(cache) == []
    assert all(part.state == "stopped" for part in Stack(own).status())
