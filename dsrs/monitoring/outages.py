"""A broker outage told in a few lines: when it started, that it lasts (once a minute), when it ended.

While Kafka is unreachable its clients retry in a loop and log every failed attempt, thousands of lines
a minute; those records are held back here and counted instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable

# The aiokafka loggers that report each failed attempt; a filter on a logger sees only its own records.
CLIENT_LOGGERS = (
    "aiokafka",
    "aiokafka.conn",
    "aiokafka.cluster",
    "aiokafka.consumer.fetcher",
    "aiokafka.consumer.group_coordinator",
    "aiokafka.consumer.consumer",
    "aiokafka.producer.sender",
    "aiokafka.producer.producer",
)
UNREACHABLE = re.compile(
    r"Unable connect to|Unable to update metadata|NodeNotReadyError|Connection refused|KafkaConnectionError"
    r"|coordinator dead|Heartbeat failed|Heartbeat session expired|NotLeaderForPartitionError|closed",
)
log = logging.getLogger("dsrs.outages")


class BrokerOutageLog(logging.Filter):
    def __init__(
        self, report_every: float = 60.0, quiet_after: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.report_every = report_every
        self.quiet_after = quiet_after
        self.clock = clock
        self.started: float | None = None
        self.last_failure = 0.0
        self.last_report = 0.0
        self.held_back = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not UNREACHABLE.search(record.getMessage()):
            return True
        now = self.clock()
        self.last_failure = now
        if self.started is None:
            self.started = self.last_report = now
            self.held_back = 0
            log.warning("Kafka unreachable: %s", record.getMessage())
            return False
        self.held_back += 1
        if now - self.last_report >= self.report_every:
            self.last_report = now
            log.warning("Kafka still unreachable after %.0fs (%d failed attempts)", now - self.started, self.held_back)
        return False

    def check_ended(self) -> None:
        """Called every few seconds: an outage with no failure for `quiet_after` seconds has ended."""
        now = self.clock()
        if self.started is not None and now - self.last_failure >= self.quiet_after:
            log.warning(
                "Kafka reachable again after %.0fs (%d failed attempts not logged)",
                self.last_failure - self.started,
                self.held_back,
            )
            self.started = None


def install_outage_log() -> BrokerOutageLog:
    """Hold back the clients' per-attempt failures; the same filter however often it is installed."""
    for name in CLIENT_LOGGERS:
        for existing in logging.getLogger(name).filters:
            if isinstance(existing, BrokerOutageLog):
                return existing
    outage_log = BrokerOutageLog()
    for name in CLIENT_LOGGERS:
        logging.getLogger(name).addFilter(outage_log)
    return outage_log


async def watch_outages(outage_log: BrokerOutageLog, stopping: asyncio.Event, every: float = 2.0) -> None:
    """Tell an outage's end for as long as the process runs."""
    while not stopping.is_set():
        outage_log.check_ended()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=every)
