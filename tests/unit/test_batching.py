from __future__ import annotations

from dsrs.streams.batching import is_backlog, waiting_after


def test_what_waits_is_what_the_partition_holds_after_the_newest_taken() -> None:
    # The highwater is the offset the next message will get: 10 means offsets up to 9 exist.
    assert waiting_after(offset=5, highwater=10) == 4
    assert waiting_after(offset=9, highwater=10) == 0


def test_a_partition_with_no_known_highwater_is_not_waited_for() -> None:
    assert waiting_after(offset=5, highwater=None) == 0


def test_a_highwater_not_yet_refreshed_past_the_batch_counts_as_nothing_waiting() -> None:
    assert waiting_after(offset=12, highwater=10) == 0


def test_a_backlog_that_fills_the_batch_or_doubles_it_is_waited_for() -> None:
    assert is_backlog(held=40, waiting=5_000, capacity=500)
    assert is_backlog(held=370, waiting=330, capacity=500)
    assert is_backlog(held=100, waiting=100, capacity=500)


def test_a_steady_trickle_behind_a_batch_is_not_waited_for() -> None:
    # A steady load is always a little behind: waiting for it held every batch for the whole extra wait.
    assert not is_backlog(held=150, waiting=50, capacity=500)
    assert not is_backlog(held=30, waiting=2, capacity=500)


def test_an_empty_or_full_batch_does_not_wait() -> None:
    assert not is_backlog(held=0, waiting=1_000, capacity=500)
    assert not is_backlog(held=500, waiting=1_000, capacity=500)
