import uuid

import pytest
from aiokafka.partitioner import DefaultPartitioner

from dsrs.events.record_batches import partition_of


@pytest.mark.parametrize("count", [1, 3, 4, 12])
def test_a_key_goes_where_the_producers_default_partitioner_sends_it(count: int) -> None:
    partitions = list(range(count))
    keys = [str(uuid.uuid4()).encode() for _ in range(500)] + [b"", b"a", b"program|R01"]
    # Twice: the second time comes from the cache of recent keys.
    for _ in range(2):
        assert [partition_of(k, partitions) for k in keys] == [
            DefaultPartitioner()(k, partitions, partitions) for k in keys
        ]
