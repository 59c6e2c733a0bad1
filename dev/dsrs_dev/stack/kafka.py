"""Apache Kafka in KRaft mode, one JVM a node (broker and controller in one), run from Maven Central jars:
a single node, or a cluster of several on consecutive port pairs (`dsrs stack up --brokers 3`).

The broker listens on 127.0.0.1:port; its controller listener takes the next port, port + 1,
so both must be free.
"""

from __future__ import annotations

import base64
import shutil
import socket
import struct
import time
import uuid
from pathlib import Path

from dsrs_dev.stack.component import Component, StackError, port_open

KAFKA_VERSION = "3.9.1"
SCALA_VERSION = "2.13"
# Kafka's POM declares no slf4j binding, so without one the broker logs nothing at all; these are
# the versions Kafka 3.9's own distribution ships. reload4j is named too because slf4j-reload4j
# alone would bring an older one.
SLF4J_VERSION = "1.7.36"
RELOAD4J_VERSION = "1.2.25"

_POM = f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dsrs_dev.stack</groupId>
  <artifactId>kafka-dist</artifactId>
  <version>{KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{SCALA_VERSION}</artifactId>
      <version>{KAFKA_VERSION}</version>
      <scope>runtime</scope>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>{SLF4J_VERSION}</version>
      <scope>runtime</scope>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>{RELOAD4J_VERSION}</version>
      <scope>runtime</scope>
    </dependency>
  </dependencies>
</project>
"""

# Warnings only, since Kafka's INFO output runs to megabytes a day; the few INFO lines kept say
# which version started and when it was up, which is what one opens this log for.
_LOG4J_PROPERTIES = """log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.org.apache.kafka.common.utils.AppInfoParser=INFO
"""

_JVM_FLAGS = [
    "-Xms256m",
    "-Xmx512m",
    # The flags Kafka's own start script uses; short GC pauses keep client timeouts quiet.
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
]

_METADATA_API_KEY = 3
_METADATA_API_VERSION = 1
_HEALTH_CORRELATION_ID = 0x44535253
_HEALTH_TIMEOUT_SECONDS = 1.5
# What a Metadata v1 response starts with: the correlation id, then the length of the broker array.
_RESPONSE_PREFIX = struct.Struct(">ii")
# Far more than one broker's metadata takes; a larger length means whatever answered is not Kafka.
_MAX_RESPONSE_BYTES = 1 << 20


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes in url-safe base64 without padding, as Kafka's Uuid makes them."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        # Kafka rejects ids that start with '-' since a command line would read them as an option.
        if not cluster_id.startswith("-"):
            return cluster_id


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        chunks.extend(chunk)
    return bytes(chunks)


def broker_count(port: int, host: str = "127.0.0.1", timeout: float = _HEALTH_TIMEOUT_SECONDS) -> int | None:
    """How many live brokers a Metadata request to host:port reports; None when nothing Kafka answered.

    A raw Metadata v1 request rather than a client library: it stays synchronous and cheap, and unlike
    an open port it proves the broker finished starting, since a KRaft broker only serves requests
    once it has caught up with the metadata log and lists itself only once unfenced.
    """
    client_id = b"dsrs-health"
    # Header v1 (api key, api version, correlation id, client id) and an empty topic array, so the
    # answer carries the brokers and no topic metadata.
    request = struct.pack(
        f">hhih{len(client_id)}si",
        _METADATA_API_KEY,
        _METADATA_API_VERSION,
        _HEALTH_CORRELATION_ID,
        len(client_id),
        client_id,
        0,
    )
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            sock.sendall(struct.pack(">i", len(request)) + request)
            (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
            if not _RESPONSE_PREFIX.size <= size <= _MAX_RESPONSE_BYTES:
                return None
            prefix: tuple[int, int] = _RESPONSE_PREFIX.unpack(_recv_exactly(sock, _RESPONSE_PREFIX.size))
    except (OSError, struct.error):
        return None
    correlation_id, brokers = prefix
    if correlation_id != _HEALTH_CORRELATION_ID or brokers < 0:
        return None
    return brokers


class Kafka(Component):
    """One Kafka node in KRaft mode; clients use PLAINTEXT on 127.0.0.1:port, the controller port + 1.

    Node n of a cluster of `nodes` listens on first_port + 2(n-1); a single node keeps the data folder,
    log and pid file named `kafka`, a cluster's nodes their own (`kafka-2of3`), since a KRaft node's
    storage belongs to the one quorum it was formatted for.
    """

    def __init__(self, cache_dir: Path, port: int, node_id: int = 1, nodes: int = 1) -> None:
        super().__init__(cache_dir, port + 2 * (node_id - 1))
        self.first_port = port
        self.node_id = node_id
        self.nodes = nodes
        self.name = "kafka" if nodes == 1 else f"kafka-{node_id}of{nodes}"

    @property
    def dist_dir(self) -> Path:
        return self.cache_dir / "dist" / "kafka"

    @property
    def controller_port(self) -> int:
        return self.port + 1

    @property
    def voters(self) -> str:
        return ",".join(f"{n}@127.0.0.1:{self.first_port + 2 * (n - 1) + 1}" for n in range(1, self.nodes + 1))

    @property
    def cluster_id_path(self) -> Path:
        """The id every node of the cluster is formatted with."""
        return self.cache_dir / "data" / f"kafka-cluster-of-{self.nodes}.id"

    def cluster_id(self) -> str:
        if self.nodes == 1:
            return new_cluster_id()
        if not self.cluster_id_path.is_file():
            self.cluster_id_path.parent.mkdir(parents=True, exist_ok=True)
            self.cluster_id_path.write_text(new_cluster_id())
        return self.cluster_id_path.read_text().strip()

    @property
    def libs_dir(self) -> Path:
        return self.dist_dir / "libs"

    @property
    def log4j_path(self) -> Path:
        return self.dist_dir / "log4j.properties"

    @property
    def server_properties_path(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "kraft-logs"

    @property
    def _install_marker(self) -> Path:
        return self.dist_dir / ".installed"

    def install(self) -> None:
        # The marker names the version, so that bumping KAFKA_VERSION reinstalls rather than
        # running a stale set of jars; it is written last, so an interrupted install is redone.
        if self._install_marker.is_file() and self._install_marker.read_text().strip() == KAFKA_VERSION:
            return
        self.dist_dir.mkdir(parents=True, exist_ok=True)
        # Leftover jars of another version would shadow the new ones on the wildcard classpath.
        shutil.rmtree(self.libs_dir, ignore_errors=True)
        self._install_marker.unlink(missing_ok=True)
        (self.dist_dir / "pom.xml").write_text(_POM)
        self.log4j_path.write_text(_LOG4J_PROPERTIES)
        self.run_step(
            [
                "mvn",
                "-q",
                "-B",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={self.libs_dir.resolve()}",
            ],
            cwd=self.dist_dir,
        )
        self._install_marker.write_text(KAFKA_VERSION + "\n")

    def server_properties(self) -> str:
        log_dirs = self.log_dirs.resolve()
        replicas, in_sync = min(3, self.nodes), min(2, self.nodes)
        return f"""# Written by dsrs_dev.stack.kafka; rewritten on every start.
node.id={self.node_id}
process.roles=broker,controller
controller.quorum.voters={self.voters}
listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs={log_dirs}
num.partitions=4
auto.create.topics.enable=true
offsets.topic.replication.factor={replicas}
default.replication.factor={replicas}
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={in_sync}
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
"""

    def prepare(self) -> None:
        # The base class only checks the client port; without this a taken controller port would
        # surface as the JVM dying with a bind error deep in the log.
        if self.read_pid() is None and port_open(self.controller_port):
            raise StackError(
                f"{self.name}: controller port {self.controller_port} (port + 1) is taken by a process this stack"
                " did not start"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Rewritten each time so a changed port takes effect; the formatted storage does not
        # record the listeners, so that is safe.
        self.server_properties_path.write_text(self.server_properties())
        if (self.log_dirs / "meta.properties").is_file():
            return
        self.run_step(
            [
                *self._java(["-Xmx256m", "-XX:TieredStopAtLevel=1"]),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                self.cluster_id(),
                "-c",
                str(self.server_properties_path.resolve()),
            ]
        )

    def _java(self, flags: list[str]) -> list[str]:
        return [
            "java",
            *flags,
            f"-Dlog4j.configuration=file:{self.log4j_path.resolve()}",
            "-cp",
            f"{self.libs_dir.resolve()}/*",
        ]

    def command(self) -> list[str]:
        return [*self._java(_JVM_FLAGS), "kafka.Kafka", str(self.server_properties_path.resolve())]

    def is_healthy(self) -> bool:
        brokers = broker_count(self.port)
        return brokers is not None and brokers > 0


class KafkaCluster:
    """The nodes of one cluster, started together: a controller quorum elects a leader only once most of
    its voters run, so no node is healthy before the others are launched."""

    def __init__(self, cache_dir: Path, port: int, nodes: int) -> None:
        self.nodes = [Kafka(cache_dir, port, node_id, nodes) for node_id in range(1, nodes + 1)]

    def start(self) -> list[bool]:
        """For each node, whether this call started it."""
        for node in self.nodes:
            node.install()
        launched = [node.launch() for node in self.nodes]
        try:
            for node, process in zip(self.nodes, launched, strict=True):
                node.wait_healthy(process)
        except StackError:
            for node in self.nodes:
                node.stop()
            raise
        return [process is not None for process in launched]
