from __future__ import annotations

from dsrs.streams.batching import is_behind


def test_a_partition_is_behind_while_it_holds_messages_after_the_newest_taken() -> None:
    # The highwater is the offset the next message will get: 10 means offsets up to 9 exist.
    assert is_behind(offset=5, highwater=10)
    assert not is_behind(offset=9, highwater=10)


def test_a_partition_with_no_known_highwater_is_not_waited_for() -> None:
    assert not is_behind(offset=5, highwater=None)
