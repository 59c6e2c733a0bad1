"""New ids for the records and events DSRS makes: time-ordered (version 7) UUIDs, as text.

Version 7 starts with the time in milliseconds, so ids made later sort later and PostgreSQL appends
them to its indexes (processed_events, the outbox, assessments, payments) instead of writing all over
them; the remaining 74 bits are random.

A stage makes several per household (an event id for each event, an id for each assessment and
payment), and each goes into JSON and into PostgreSQL, both as text. `str(uuid.uuid4())` builds a
`uuid.UUID` only to write it out again; here the text is made straight from the random bytes.

The random bytes are read from the operating system RANDOM_VALUES_PER_READ ids at a time. `os.urandom`
lets go of the GIL for its system call, and in the worker Faust's consumer thread is usually waiting for
it: each id would then cost the event loop a wait of up to the switch interval to get the GIL back.
"""

from __future__ import annotations

import os
import time
from collections import deque

_VERSION_7_RFC_4122 = (0x7000 << 64) | (0x8000 << 48)
_RANDOM_A_BITS = 0x0FFF << 64
_RANDOM_B_BITS = (1 << 62) - 1
RANDOM_VALUES_PER_READ = 256

# Taken from with `popleft`, which the GIL makes atomic: two threads never get the same value.
_random_values: deque[int] = deque()
# A forked child would otherwise make the same ids as its parent.
os.register_at_fork(after_in_child=_random_values.clear)


def _random_128_bits() -> int:
    while True:
        try:
            return _random_values.popleft()
        except IndexError:
            block = os.urandom(16 * RANDOM_VALUES_PER_READ)
            _random_values.extend(int.from_bytes(block[start : start + 16]) for start in range(0, len(block), 16))


def new_uuid() -> str:
    """A time-ordered UUID, version 7 and RFC 4122 variant, in lower-case hyphenated form."""
    random_bits = _random_128_bits() & (_RANDOM_A_BITS | _RANDOM_B_BITS)
    value = (time.time_ns() // 1_000_000) << 80 | _VERSION_7_RFC_4122 | random_bits
    digits = f"{value:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
