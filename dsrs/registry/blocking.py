"""Blocking keys: a household is compared only with the households that share one of its keys, so
that it meets tens of candidates, not the registry.

Keys: its phone in E.164 (as given when it cannot be read), its national id, its email, and, within
its region, each pair of its name's tokens by sound (either order). Each is kept as a 64-bit digest.
"""

from __future__ import annotations

import hashlib
from itertools import combinations

from dsrs.registry.identity import name_tokens, normalized_phone, phonetic
from dsrs.registry.resemblance import Person


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
    sounds = sorted({phonetic(token) for token in name_tokens(person.name)})
    # Pairs of tokens, so that a common given name alone does not make a block of half the region.
    for pair in combinations(sounds, 2) if len(sounds) > 1 else [tuple(sounds)] if sounds else []:
        keys.add(f"name|{person.region}|{'|'.join(pair)}")
    return {digest(key) for key in keys}
