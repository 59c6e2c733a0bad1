"""Messages reach the agents as they came: Faust decodes neither key nor value.

The agents read each message's bytes themselves (`dsrs.worker.agents.incoming`), so Faust's decoding
of the event's key and value, a serializer lookup and a codec call for each even with the "raw" codec,
made values nobody read.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.serializers.schemas import DecodeFunction, OnKeyDecodeErrorFun, OnValueDecodeErrorFun
from faust.types import AppT, Message


class RawSchema(faust.Schema[bytes, bytes]):
    def __init__(self) -> None:
        super().__init__(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    def compile(
        self,
        app: AppT,
        *,
        on_key_decode_error: OnKeyDecodeErrorFun | None = None,
        on_value_decode_error: OnValueDecodeErrorFun | None = None,
        default_propagate: bool = False,
    ) -> DecodeFunction:
        create_event = app.create_event

        async def decode(message: Message, *, propagate: bool = default_propagate) -> Any:
            return create_event(message.key, message.value, message.headers, message)

        return decode
