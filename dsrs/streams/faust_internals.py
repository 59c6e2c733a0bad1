"""The one place DSRS touches faust-streaming's and mode's private names, and lists aiokafka's it relies on.

DSRS pins faust-streaming >=0.15.3,<0.16 and relies on a few of its private attributes and methods, and on a
copy of one of them (`Consumer._drain_messages`). Faust may change any of them in any release without
notice, so they are all reached here, behind small public functions and classes, and `missing_internals()`
(run by tests/unit/test_faust_internals.py) names whatever the installed Faust no longer has. When Faust is
upgraded, this module is the one to revisit.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import io
import re
import textwrap
import tokenize
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import faust
import faust.streams
from aiokafka.client import AIOKafkaClient
from faust.transport.consumer import CONSUMER_FETCHING, RecordMap
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.drivers import aiokafka
from faust.types import TP, EventT, StreamT, TransportT
from faust.types.tuples import Message
from mode import Service, ServiceT
from mode.utils.queues import ThrowableQueue

# The faust-streaming release `HookedConsumer._drain_messages` was copied from, and its original's fingerprint.
DRAIN_MESSAGES_COPIED_FROM = "faust-streaming 0.15.3"
DRAIN_MESSAGES_FINGERPRINT = "5316bc19d7016bdb"

StreamEventSensor = Callable[[TP, int, StreamT[Any], EventT[Any]], object]


class HookedConsumer(aiokafka.Consumer):
    """Faust's aiokafka consumer, with the private steps of its fetch loop overridable under public names."""

    # Faust's signature, timeout included.
    async def wait_next_records(self, timeout: float) -> tuple[RecordMap | None, set[TP] | None]:  # noqa: ASYNC109
        """The next records fetched, and the partitions asked for: Faust's `_wait_next_records`."""
        return await super()._wait_next_records(timeout)

    def hand_over(self, message: Message) -> Awaitable[object]:
        """What the fetch loop awaits to deliver `message`: Faust's, abandoned if the flow is suspended meanwhile."""
        return self.wait_first(self.callback(message), self.suspend_flow.wait())

    async def _wait_next_records(self, timeout: float) -> tuple[RecordMap | None, set[TP] | None]:  # noqa: ASYNC109
        return await self.wait_next_records(timeout)

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        """faust-streaming 0.15's `Consumer._drain_messages`; each message is delivered by `hand_over`."""
        hand_over = self.hand_over
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        yield_every = 100
        num_since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                messages = getmany(timeout=1.0)
                # getmany can return at once again and again: let the loop run in between.
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in messages:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await asyncio.sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        read_offset = get_read_offset(tp)
                        if read_offset is None or offset >= read_offset:
                            gap = offset - (read_offset or 0)
                            if gap > 1 and read_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, read_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            await hand_over(message)
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev("DROPPED MESSAGE ROFF %r: k=%r v=%r", offset, message.key, message.value)
                    self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


def held_back_partitions(consumer: FaustConsumer) -> set[TP]:
    """The partitions the consumer stopped asking for because their streams' buffers are full."""
    return consumer._buffered_partitions


def active_partitions(consumer: FaustConsumer) -> set[TP]:
    """The partitions the consumer asks for records: assigned, not paused, not held back."""
    return consumer._get_active_partitions()


class HookedApp(faust.App):
    """A Faust app whose transport is chosen by `new_transport`."""

    def new_transport(self) -> TransportT:
        """The transport for the app's consumer: Faust's, by the scheme of the broker's URL."""
        return super()._new_transport()

    def _new_transport(self) -> TransportT:
        return self.new_transport()


def remove_monitor_sensor(app: faust.App) -> None:
    """Take Faust's Monitor off the app's sensors (Faust adds it in `App.on_init_dependencies`)."""
    if app.monitor in app.sensors:
        app.sensors.remove(app.monitor)


def stream_event_in_sensor(stream: faust.Stream[Any]) -> StreamEventSensor:
    """What Faust's stream iterator tells the app's sensors of each event it hands over."""
    return cast(StreamEventSensor, stream._on_stream_event_in)


def finalize_stream(stream: faust.Stream[Any]) -> None:
    """As Faust's stream iterator does when it starts: the stream's chain (`through`, `echo`, ...) is fixed."""
    stream._finalized = True


def stop_channel_iteration(stream: faust.Stream[Any], channel: object) -> None:
    """As Faust's stream iterator does when it ends: tell the channel its iteration stopped."""
    stream._channel_stop_iteration(channel)


def channel_queue(channel: faust.Topic) -> ThrowableQueue[Any] | None:
    """The queue a channel's stream reads from, if it was made yet."""
    return channel._queue


def set_channel_queue(channel: faust.Topic, queue: ThrowableQueue[Any]) -> None:
    """Make `queue` the one the channel's stream reads from."""
    channel._queue = queue


@contextmanager
def as_current_event(event: object) -> Iterator[None]:
    """Within this context, `event` is the current event, as for the body of Faust's stream iteration."""
    current_event = faust.streams._current_event
    token = current_event.set(weakref.ref(event))  # type: ignore[arg-type]
    try:
        yield
    finally:
        current_event.reset(token)


@dataclass(frozen=True)
class PrivateMethod:
    owner: type
    name: str
    parameters: tuple[str, ...]
    is_coroutine: bool


# Attributes of Faust's and mode's objects read or written above.
PRIVATE_ATTRIBUTES: tuple[tuple[type, str], ...] = (
    (aiokafka.Consumer, "_buffered_partitions"),
    (aiokafka.Consumer, "_read_offset"),
    (aiokafka.Consumer, "_commit_every"),
    (aiokafka.Consumer, "_n_acked"),
    (Service, "_stopped"),
    (faust.Stream, "_on_stream_event_in"),
    (faust.Stream, "_finalized"),
    (faust.Topic, "_queue"),
    (AIOKafkaClient, "_conns"),  # by dsrs.kafka.reconnect
)
# Methods called or overridden above, with the parameters relied upon.
PRIVATE_METHODS: tuple[PrivateMethod, ...] = (
    PrivateMethod(aiokafka.Consumer, "_drain_messages", ("self", "fetcher"), True),
    PrivateMethod(aiokafka.Consumer, "_wait_next_records", ("self", "timeout"), True),
    PrivateMethod(aiokafka.Consumer, "_get_active_partitions", ("self",), False),
    PrivateMethod(aiokafka.Consumer, "_add_gap", ("self", "tp", "offset_from", "offset_to"), True),
    PrivateMethod(faust.Stream, "_channel_stop_iteration", ("self", "channel"), False),
    PrivateMethod(faust.App, "_new_transport", ("self",), False),
    PrivateMethod(AIOKafkaClient, "_get_conn", ("self", "node_id", "group", "no_hint"), True),  # wrapped, likewise
)
# Public names the classes above add to Faust's: Faust must not define them itself.
HOOK_NAMES: tuple[tuple[type, str], ...] = (
    (aiokafka.Consumer, "wait_next_records"),
    (aiokafka.Consumer, "hand_over"),
    (faust.App, "new_transport"),
)


def missing_internals() -> list[str]:
    """What the installed Faust lacks, or has changed, of the private names this module relies on."""
    missing = [_qualified(owner, name) for owner, name in PRIVATE_ATTRIBUTES if not _is_set_on_instances(owner, name)]
    for method in PRIVATE_METHODS:
        missing += _method_problems(method)
    if not isinstance(getattr(faust.streams, "_current_event", None), ContextVar):
        missing.append("faust.streams._current_event (a ContextVar)")
    drain_messages = getattr(aiokafka.Consumer, "_drain_messages", None)
    if drain_messages is not None:
        source = _source(drain_messages)
        if code_fingerprint(source) != DRAIN_MESSAGES_FINGERPRINT:
            missing.append(
                f"{_qualified(aiokafka.Consumer, '_drain_messages')} as copied from {DRAIN_MESSAGES_COPIED_FROM} ("
                + (
                    "its source changed: compare it with HookedConsumer._drain_messages, then update the fingerprint)"
                    if source
                    else "its source cannot be read to compare it with HookedConsumer._drain_messages)"
                )
            )
    missing += [
        f"{_qualified(owner, name)} (now Faust's own: DSRS's hook needs another name)"
        for owner, name in HOOK_NAMES
        if hasattr(owner, name)
    ]
    if "self.sensors.add(self.monitor)" not in _source(faust.App.on_init_dependencies):
        missing.append("faust.App.on_init_dependencies adding app.monitor to app.sensors")
    return missing


def code_fingerprint(source: str) -> str:
    """A hash of Python source, blind to its comments, indentation depth and line wrapping."""
    ignored = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
    tokens = [
        token.string if token.type not in (tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE) else str(token.type)
        for token in tokenize.generate_tokens(io.StringIO(textwrap.dedent(source)).readline)
        if token.type not in ignored
    ]
    return hashlib.sha256("\n".join(tokens).encode()).hexdigest()[:16]


def _qualified(owner: type, name: str) -> str:
    return f"{owner.__module__}.{owner.__qualname__}.{name}"


def _source(code: type | Callable[..., object]) -> str:
    try:
        return inspect.getsource(code)
    except (OSError, TypeError):
        return ""


def _is_set_on_instances(owner: type, name: str) -> bool:
    """Whether `name` is a class attribute of `owner` or assigned to `self` in the library's code of it."""
    if hasattr(owner, name):
        return True
    assignment = re.compile(rf"\bself\.{re.escape(name)}\s*(:[^=\n]*)?=(?!=)")
    return any(
        assignment.search(_source(cls))
        for cls in owner.__mro__
        if cls.__module__.split(".", 1)[0] in ("faust", "mode", "aiokafka")
    )


def _method_problems(method: PrivateMethod) -> list[str]:
    name = _qualified(method.owner, method.name)
    function = getattr(method.owner, method.name, None)
    # Checked is the library's own method, not DSRS's wrapper of it (dsrs.kafka.reconnect).
    function = None if function is None else inspect.unwrap(function)
    if function is None:
        return [name]
    try:
        parameters = tuple(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        parameters = ()
    problems = []
    if parameters != method.parameters:
        problems.append(f"{name}({', '.join(method.parameters)}) (now ({', '.join(parameters)}))")
    if inspect.iscoroutinefunction(function) != method.is_coroutine:
        problems.append(f"{name} ({'no longer' if method.is_coroutine else 'now'} a coroutine function)")
    return problems
