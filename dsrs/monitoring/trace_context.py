"""W3C trace context carried by every event, so one household's saga is one trace."""

from __future__ import annotations

import random
import re

TRACEPARENT = "traceparent"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def new_traceparent() -> str:
    return f"00-{_random_id(128):032x}-{_random_id(64):016x}-01"


def child_traceparent(parent: str | None) -> str:
    """The same trace with a new span id; a new trace when the parent is missing or malformed."""
    match = _TRACEPARENT.match(parent or "")
    if match is None:
        return new_traceparent()
    return f"00-{match.group(1)}-{_random_id(64):016x}-{match.group(3)}"


def _random_id(bits: int) -> int:
    # As OpenTelemetry's own id generator makes them: ids must be unique, not secret, and the secrets
    # module would make a system call per id. All zeros is invalid.
    while True:
        value = random.getrandbits(bits)
        if value:
            return value


def trace_id(traceparent: str) -> str | None:
    match = _TRACEPARENT.match(traceparent)
    return match.group(1) if match else None
