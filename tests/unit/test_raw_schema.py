from typing import Any

import faust
import pytest
from faust.types import Message

from dsrs.streams.raw_schema import RawSchema


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the raw schema consulted a serializer")


@pytest.mark.parametrize("value", [b"not json {", None])
async def test_messages_become_events_with_their_bytes_untouched(monkeypatch: pytest.MonkeyPatch, value: Any) -> None:
    app = faust.App("test-raw-schema", autodiscover=False)
    monkeypatch.setattr(app.serializers, "loads_key", _refuse)
    monkeypatch.setattr(app.serializers, "loads_value", _refuse)
    message = Message("dsrs.topic", 2, 41, 0.0, 0, [("traceparent", b"00-x")], b"\xffkey", value, None)
    event = await RawSchema().compile(app)(message)
    assert event.message is message
    assert (event.key, event.value) == (b"\xffkey", value)
