"""Batch processing: retries what is transient, dead-letters exactly what can never succeed."""

from collections.abc import Sequence
from datetime import datetime

import pytest

from dsrs.dlq.publisher import Failure
from dsrs.events.incoming import Incoming
from dsrs.streams.errors import PermanentError
from dsrs.streams.processing import BatchProcessor, Decoded
from dsrs.waiting import Backoff


def message(offset: int, value: bytes) -> Incoming:
    return Incoming("topic", 0, offset, b"key", value, {"traceparent": b"00-x"})


class RecordingDeadLetters:
    def __init__(self) -> None:
        self.letters: list[tuple[Incoming, Failure]] = []

    async def send(self, message: Incoming, failure: Failure) -> None:
        self.letters.append((message, failure))


class Handler:
    """Fails transiently `outages` times, and permanently on values starting with 'poison'."""

    consumer = "test"

    def __init__(self, outages: int = 0) -> None:
        self.outages = outages
        self.applied: list[str] = []
        self.calls = 0

    def decode(self, message: Incoming) -> str:
        if message.value is None or not message.value.isascii():
            raise ValueError("not ascii")
        return message.value.decode()

    async def handle(self, batch: Sequence[Decoded[str]]) -> None:
        self.calls += 1
        if self.outages:
            self.outages -= 1
            raise ConnectionRefusedError("database down")
        if any(d.item.startswith("poison") for d in batch):
            raise PermanentError("violates an invariant")
        self.applied.extend(d.item for d in batch)


def processor(handler: Handler, letters: RecordingDeadLetters) -> BatchProcessor[str]:
    return BatchProcessor(handler, letters, Backoff(first_seconds=0.0, max_seconds=0.0))  # type: ignore[arg-type]


async def test_a_transient_failure_is_retried_until_it_passes() -> None:
    handler, letters = Handler(outages=3), RecordingDeadLetters()
    await processor(handler, letters).process([message(1, b"a"), message(2, b"b")])
    assert handler.applied == ["a", "b"]
    assert handler.calls == 4
    assert letters.letters == []


async def test_a_poison_message_is_isolated_and_dead_lettered_alone() -> None:
    handler, letters = Handler(), RecordingDeadLetters()
    await processor(handler, letters).process([message(1, b"a"), message(2, b"poison"), message(3, b"c")])
    assert handler.applied == ["a", "c"]
    assert [(m.offset, f.error_class) for m, f in letters.letters] == [(2, "dsrs.streams.errors.PermanentError")]
    failure = letters.letters[0][1]
    assert failure.message == "violates an invariant"
    assert isinstance(failure.first_failure, datetime)


async def test_an_undecodable_message_is_dead_lettered_and_the_rest_applied() -> None:
    handler, letters = Handler(), RecordingDeadLetters()
    await processor(handler, letters).process([message(1, "é".encode()), message(2, b"b")])
    assert handler.applied == ["b"]
    assert [m.offset for m, _ in letters.letters] == [1]
    assert letters.letters[0][1].error_class == "builtins.ValueError"


@pytest.mark.parametrize("attempt", [1, 2, 5, 30])
def test_backoff_doubles_up_to_its_cap(attempt: int) -> None:
    backoff = Backoff(first_seconds=0.5, max_seconds=10.0)
    assert backoff.delay(attempt) == min(10.0, 0.5 * 2 ** (attempt - 1))


async def test_a_message_whose_writer_applied_this_stage_is_skipped() -> None:
    handler, letters = Handler(), RecordingDeadLetters()
    applied_here = Incoming("topic", 0, 1, b"key", b"a", {"dsrs-applied-by": b"eligibility,test"})
    applied_elsewhere = Incoming("topic", 0, 2, b"key", b"b", {"dsrs-applied-by": b"eligibility"})
    # A name only contains this consumer's: not this consumer.
    lookalike = Incoming("topic", 0, 3, b"key", b"c", {"dsrs-applied-by": b"test-other"})
    batches = processor(handler, letters)
    await batches.process([applied_here, applied_elsewhere, lookalike])
    assert handler.applied == ["b", "c"]
    assert (batches.applied_upstream, batches.processed) == (1, 2)
    assert letters.letters == []
