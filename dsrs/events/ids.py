"""New ids for the records and events DSRS makes: random (version 4) UUIDs, as text.

A stage makes several per household (an event id for each event, an id for each assessment and
payment), and each goes into JSON and into PostgreSQL, both as text. `str(uuid.uuid4())` builds a
`uuid.UUID` only to write it out again; here the text is made straight from the random bytes.

The random bytes are read from the operating system RANDOM_VALUES_PER_READ ids at a time. `os.urandom`
lets go of the GIL for its system call, and in the worker Faust's consumer thread is usually waiting for
it: each id would then cost the event loop a wait of up to the switch interval to get the GIL back.
"""

from __future__ import annotations

import os
from collections import deque

_VERSION_AND_VARIANT_BITS = (0xF000 << 64) | (0xC000 << 48)
_VERSION_4_RFC_4122 = (0x4000 << 64) | (0x8000 << 48)
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
    """A random UUID, version 4 and RFC 4122 variant, in lower-case hyphenated form."""
    value = _random_128_bits() & ~_VERSION_AND_VARIANT_BITS | _VERSION_4_RFC_4122
    digits = f"{value:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
