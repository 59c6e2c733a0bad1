"""The relay reads only plainly named data fields for its fan-out: they become part of its SQL."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from dsrs.analytics.bundle import AnalyticsFanOut
from dsrs.outbox.fan_out import Message, Published, checked_data_fields
from dsrs.outbox.relay import pending_page


class Injecting:
    data_fields: tuple[str, ...] = ("region'; DROP TABLE households; --",)

    def messages(self, published: Sequence[Published]) -> list[Message]:
        return []


def test_a_field_name_that_is_not_plain_is_refused() -> None:
    with pytest.raises(ValueError, match="expected a lower-case name"):
        checked_data_fields(Injecting())


def test_the_relay_reads_the_fields_analytics_groups_by_and_none_without_a_fan_out() -> None:
    fields = checked_data_fields(AnalyticsFanOut("analytics"))
    assert fields == ("program_id", "region")
    assert "payload->'data'->>'program_id', payload->'data'->>'region'" in str(pending_page(fields))
    assert "ARRAY[]::text[]" in str(pending_page(checked_data_fields(None)))
