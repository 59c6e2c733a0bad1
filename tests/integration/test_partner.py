"""A partner's publisher on the real broker: every household arrives once, in order per household,
with its headers, whether sent as fast as the broker takes them or paced to an offered load."""

from __future__ import annotations

from collections import defaultdict

import pytest

from dsrs.settings import Settings
from dsrs_dev.partner import publish_intake
from dsrs_dev.synthetic import synthetic_intake
from tests.integration.records import read_records

pytestmark = pytest.mark.integration


async def test_every_household_arrives_once_in_order_with_its_headers(settings: Settings, topic: str) -> None:
    # Updates of earlier households: a key's messages must keep their order across windows.
    messages = list(synthetic_intake(2_500, settings.regions, seed=3, update_share=0.3, invalid_share=0.02))
    hand_overs: list[int] = []

    sent = await publish_intake(settings, messages, hand_overs.append, window=1_000, topic=topic)

    assert sent == len(messages)
    assert hand_overs == [1_000, 1_000, 500]
    records = await read_records(settings, topic, len(messages))
    assert len(records) == len(messages)
    expected: dict[bytes, list[bytes]] = defaultdict(list)
    for message in messages:
        expected[message.key].append(message.value)
    arrived: dict[bytes, list[bytes]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        assert record.key is not None
        assert record.value is not None
        arrived[record.key].append(record.value)
    assert arrived == expected
    headers = {message.value: message.headers for message in messages}
    assert all(list(record.headers) == headers[record.value] for record in records if record.value is not None)


async def test_paced_households_are_handed_over_as_they_come_not_only_when_a_window_fills(
    settings: Settings, topic: str
) -> None:
    messages = list(synthetic_intake(200, settings.regions, seed=4, update_share=0, invalid_share=0))
    hand_overs: list[int] = []

    # 200 at 2,000/s take 0.1 s: several flushes of PACED_FLUSH_SECONDS pass before the window would fill.
    sent = await publish_intake(settings, messages, hand_overs.append, window=1_000, topic=topic, per_second=2_000)

    assert sent == 200
    assert sum(hand_overs) == 200
    assert len(hand_overs) > 1
    records = await read_records(settings, topic, 200)
    assert sorted(r.value for r in records if r.value is not None) == sorted(m.value for m in messages)
