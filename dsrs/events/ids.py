"""New ids for the records and events DSRS makes: random (version 4) UUIDs, as text.

A stage makes several per household (an event id for each event, an id for each assessment and
payment), and each goes into JSON and into PostgreSQL, both as text. `str(uuid.uuid4())` builds a
`uuid.UUID` only to write it out again: 1.8 us, against 1.0 here from the same 16 random bytes.
"""

from __future__ import annotations

import os

_VERSION_AND_VARIANT_BITS = (0xF000 << 64) | (0xC000 << 48)
_VERSION_4_RFC_4122 = (0x4000 << 64) | (0x8000 << 48)


def new_uuid() -> str:
    """A random UUID, version 4 and RFC 4122 variant, in lower-case hyphenated form."""
    value = int.from_bytes(os.urandom(16)) & ~_VERSION_AND_VARIANT_BITS | _VERSION_4_RFC_4122
    digits = f"{value:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
