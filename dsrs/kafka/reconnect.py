"""Kafka clients that wait before trying again a broker that refused them: doubling, capped, jittered.

aiokafka retries a broker that refuses connections every `retry_backoff_ms` (100 ms), from each of a
process's clients, in a loop; Kafka's Java clients back off exponentially (reconnect.backoff.max.ms).
The aiokafka names this relies on are checked by dsrs.streams.faust_internals.missing_internals().
"""

from __future__ import annotations

import asyncio
import functools
import random
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from aiokafka.client import AIOKafkaClient, ConnectionGroup

# aiokafka's retry_backoff_ms, the wait before the second attempt.
RECONNECT_BACKOFF_INITIAL_SECONDS = 0.1
CONNECT_WITHOUT_BACKOFF = AIOKafkaClient._get_conn
_backoffs: weakref.WeakKeyDictionary[AIOKafkaClient, ReconnectBackoff] = weakref.WeakKeyDictionary()
# A module-level name, so that a test can record the waits instead of sleeping them.
sleep = asyncio.sleep


@dataclass
class ReconnectBackoff:
    """Per broker: no wait before the first attempt or after a success; after n failures in a row,
    about initial x 2^(n-1), at most `maximum`, each wait varied by up to `jitter` so clients spread out.
    """

    initial: float
    maximum: float
    jitter: float = 0.2
    uniform: Callable[[float, float], float] = random.uniform
    _failures: dict[Hashable, int] = field(default_factory=dict)

    def delay_before_attempt(self, broker: Hashable) -> float:
        failures = self._failures.get(broker, 0)
        if failures == 0:
            return 0.0
        base = min(self.maximum, self.initial * 2.0 ** min(failures - 1, 32))
        return min(self.maximum, base * self.uniform(1 - self.jitter, 1 + self.jitter))

    def record(self, broker: Hashable, *, succeeded: bool) -> None:
        if succeeded:
            self._failures.pop(broker, None)
        else:
            self._failures[broker] = self._failures.get(broker, 0) + 1


def install_reconnect_backoff(initial: float, maximum: float) -> None:
    """Every aiokafka client of this process backs off between failed connection attempts to a broker."""

    @functools.wraps(CONNECT_WITHOUT_BACKOFF)
    async def get_conn(
        self: AIOKafkaClient, node_id: object, *, group: int = ConnectionGroup.DEFAULT, no_hint: bool = False
    ) -> object:
        backoff = _backoffs.get(self)
        if backoff is None:
            backoff = _backoffs[self] = ReconnectBackoff(initial, maximum)
        connected = self._conns.get((node_id, group))
        if connected is None or not connected.connected():
            delay = backoff.delay_before_attempt((node_id, group))
            if delay > 0:
                await sleep(delay)
        conn = await CONNECT_WITHOUT_BACKOFF(self, node_id, group=group, no_hint=no_hint)
        backoff.record((node_id, group), succeeded=conn is not None)
        return conn

    AIOKafkaClient._get_conn = get_conn
