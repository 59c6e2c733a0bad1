"""A broker outage is told in a few lines, however many failed attempts the clients log."""

from __future__ import annotations

import logging

import pytest

from dsrs.monitoring.outages import BrokerOutageLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _failure() -> logging.LogRecord:
    return logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, "Unable connect to node with id %s", (1,), None)


def test_an_outage_is_its_start_a_line_a_minute_and_its_end(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    outage = BrokerOutageLog(report_every=60.0, quiet_after=10.0, clock=clock)
    passed = []
    with caplog.at_level(logging.WARNING, logger="dsrs.outages"):
        for step in range(1500):  # 150 s of failures, ten a second
            clock.now = step / 10
            passed.append(outage.filter(_failure()))
            outage.check_ended()
        clock.now = 160.0
        outage.check_ended()
    assert not any(passed)
    messages = [record.getMessage() for record in caplog.records]
    assert messages[0].startswith("Kafka unreachable: Unable connect to node with id 1")
    assert [m.split(" after")[0] for m in messages[1:]] == ["Kafka still unreachable"] * 2 + ["Kafka reachable again"]
    assert messages[-1] == "Kafka reachable again after 150s (1499 failed attempts not logged)"


def test_other_records_pass() -> None:
    outage = BrokerOutageLog()
    record = logging.LogRecord("aiokafka", logging.WARNING, __file__, 1, "Topic %s not found", ("x",), None)
    assert outage.filter(record)
    assert outage.started is None
