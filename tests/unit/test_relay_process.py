from dsrs.outbox.relay_process import RelayProcess
from dsrs.settings import load_settings


def test_a_child_that_keeps_failing_is_restarted_less_and_less_often_up_to_a_bound() -> None:
    supervisor = RelayProcess(load_settings(), "dsrs.worker.relay", restart_seconds=1.0)
    delays = [supervisor.restart.delay(failures) for failures in range(1, 9)]
    assert delays[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert delays[5:] == [30.0] * 3
