from dsrs.outbox.relay_process import MAX_RESTART_SECONDS, restart_delay


def test_a_child_that_keeps_failing_is_restarted_less_and_less_often_up_to_a_bound() -> None:
    delays = [restart_delay(failures, 1.0) for failures in range(1, 9)]
    assert delays[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert delays[5:] == [MAX_RESTART_SECONDS] * 3
