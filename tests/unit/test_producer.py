import asyncio

from dsrs.events.producer import saga_producer
from dsrs.settings import load_settings

EVENT = b"x" * 1000  # about the size of a saga event


def _events_in_one_batch() -> int:
    async def fill() -> int:
        producer = saga_producer(load_settings())
        batch = producer.create_batch()
        count = 0
        while batch.append(key=b"household", value=EVENT, timestamp=None) is not None:
            count += 1
        return count

    return asyncio.run(fill())


def test_one_partitions_batch_carries_a_couple_of_hundred_saga_events() -> None:
    # aiokafka's default batch (16 KiB) holds few, so a claim would go out as many small batches.
    assert _events_in_one_batch() >= 200
