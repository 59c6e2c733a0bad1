"""Blocking keys: a household is compared only with the households that share one of its keys, so
that it meets tens of candidates, not the registry.

Keys: its phone in E.164 (as given when it cannot be read), its national id, its email, and, within
its region, each of its name's tokens by sound with another token's initial: a typo or a transliteration
in one token leaves the key of the other, in either order. Each is kept as a 64-bit digest.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from itertools import permutations

from dsrs.registry.identity import name_tokens, normalized_phone, phonetic
from dsrs.registry.resemblance import Person


@lru_cache(maxsize=65_536)
def digest(key: str) -> int:
    """A signed 64-bit digest (PostgreSQL's bigint): equal keys meet, the key itself is not stored."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def blocking_keys(person: Person, phone_country: str) -> set[int]:
    keys: set[str] = set()
    if person.phone:
        keys.add(f"phone|{normalized_phone(person.phone, phone_country)}")
    if person.national_id:
        keys.add(f"national_id|{person.national_id}")
    if person.email:
        keys.add(f"email|{person.email.casefold()}")
    tokens = name_tokens(person.name)
    # Two tokens, so that a common given or family name alone does not make a block of half the region.
    for sounded, initial in permutations(tokens, 2) if len(tokens) > 1 else [(token, "") for token in tokens]:
        keys.add(f"name|{person.region}|{phonetic(sounded)}|{initial[:1]}")
    return {digest(key) for key in keys}
