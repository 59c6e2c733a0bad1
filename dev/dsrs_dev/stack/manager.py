"""The local stack as a whole: which servers it runs, given the settings, and up / down / status."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dsrs.db.engine import DatabaseUnavailable, check_connection, create_engine, socket_file
from dsrs.settings import Settings
from dsrs_dev.stack.component import Component, StackError
from dsrs_dev.stack.ferretdb import FerretDB
from dsrs_dev.stack.kafka import KafkaCluster
from dsrs_dev.stack.postgres import Postgres

Report = Callable[[str], None]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class PartStatus:
    name: str
    address: str
    pid: int | None
    state: str  # "running", "unhealthy", "stopped" or "external"


def database_reachable(settings: Settings) -> bool:
    async def probe() -> bool:
        engine = create_engine(settings, pool_size=1)
        try:
            await check_connection(engine, settings, within_seconds=5.0)
            return True
        except DatabaseUnavailable:
            return False
        finally:
            await engine.dispose()

    return asyncio.run(probe())


def running_brokers(cache_dir: Path) -> int | None:
    """How many nodes the Kafka this stack started has, from the pid files of its running nodes."""
    run = cache_dir / "run"
    if (run / "kafka.pid").is_file():
        return 1
    clusters = {int(path.stem.split("of")[1]) for path in run.glob("kafka-*of*.pid")}
    return max(clusters) if clusters else None


class Stack:
    """Kafka, PostgreSQL and the Mongo-protocol store, on the ports the settings' URLs name."""

    def __init__(self, settings: Settings, brokers: int | None = None) -> None:
        """`brokers`: Kafka nodes to run; by default as many as a running cluster of this stack has, or one."""
        self.settings = settings
        cache = settings.cache_dir
        self.brokers = brokers or running_brokers(cache) or 1
        self.kafka_cluster = KafkaCluster(cache, settings.kafka_address[1], self.brokers)
        # The node clients bootstrap from: DSRS_KAFKA_URL's port.
        self.kafka = self.kafka_cluster.nodes[0]
        self.postgres = Postgres(cache, settings.database_address[1])
        self.ferretdb = FerretDB(cache, settings.mongo_address[1])

    @property
    def components(self) -> list[Component]:
        return [*self.kafka_cluster.nodes, self.postgres, self.ferretdb]

    def _postgres_is_external(self) -> bool:
        """A server we did not start that already answers DSRS_DATABASE_URL is used as it is."""
        return self.postgres.read_pid() is None and database_reachable(self.settings)

    def up(self, report: Report = print) -> None:
        other = running_brokers(self.settings.cache_dir)
        if other and other != self.brokers:
            raise StackError(
                f"a Kafka of {other} broker(s) runs; `dsrs stack down` first, then up --brokers {self.brokers}"
            )
        for node, started in zip(self.kafka_cluster.nodes, self.kafka_cluster.start(), strict=True):
            verb = "started" if started else "running"
            report(f"{node.name:<9} {verb:<9} 127.0.0.1:{node.port}  log {node.log_path}")
        for component in (self.postgres, self.ferretdb):
            if component is self.postgres and self._postgres_is_external():
                host, port = self.settings.database_address
                report(f"{'postgres':<9} {'external':<9} {host}:{port}  (DSRS_DATABASE_URL)")
                continue
            if component is self.postgres and self.settings.database_address[0] not in LOOPBACK:
                raise StackError(
                    f"DSRS_DATABASE_URL names {self.settings.database_address[0]}, which does not answer; "
                    "the stack only starts a PostgreSQL of its own on loopback"
                )
            started = component.start()
            if component is self.postgres:
                url = urlsplit(self.settings.database_url)
                self.postgres.ensure_database(unquote(url.username or "postgres"), url.path.strip("/"))
            verb = "started" if started else "running"
            report(f"{component.name:<9} {verb:<9} 127.0.0.1:{component.port}  log {component.log_path}")

    def local_settings(self, settings: Settings) -> Settings:
        """`settings`, reaching the stack's own running PostgreSQL through its Unix socket instead of TCP.

        Only the stack's own server, and only where the settings choose neither a socket nor TLS.
        """
        host, port = settings.database_address
        ours = host in LOOPBACK and port == self.postgres.port and self.postgres.read_pid() is not None
        chosen = settings.database_socket_dir is not None or settings.database_ssl != "disable"
        if not ours or chosen or not socket_file(self.postgres.socket_dir, port).exists():
            return settings
        return settings.model_copy(update={"database_socket_dir": self.postgres.socket_dir})

    def down(self, report: Report = print) -> None:
        # Reverse order: nothing stopped first is needed by what is still running.
        for component in reversed(self.components):
            stopped = component.stop()
            report(f"{component.name:<9} {'stopped' if stopped else 'not running'}")

    def status(self) -> list[PartStatus]:
        parts = []
        for component in self.components:
            status = component.status()
            if status.pid is not None:
                state = "running" if status.healthy else "unhealthy"
            elif component is self.postgres and self._postgres_is_external():
                state = "external"
            else:
                state = "stopped"
            parts.append(PartStatus(component.name, f"127.0.0.1:{component.port}", status.pid, state))
        return parts
