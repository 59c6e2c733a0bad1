"""JSON documents as the text PostgreSQL parses into JSONB."""

from __future__ import annotations

import orjson


def json_text(value: object) -> str:
    # orjson: every event's payload and headers pass through here, and the standard library's json is slow.
    return orjson.dumps(value).decode()
