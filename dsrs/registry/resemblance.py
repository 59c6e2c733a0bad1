"""How much two households look like one family: a score from 0 to 1 and the names of the fields that
agreed. Pure: the registry fetches the candidates (dsrs.registry.duplicates), this only compares.

Points, added up and kept within 0..1 (docs/duplicates.md explains the choice):

| evidence | points |
| --- | --- |
| the same national id | +0.5 (two different ones: -0.5, they are two people) |
| the same phone, in E.164 | +0.3 |
| the head of household's name, within the same region | up to +0.5, from similarity 0.80 to 0.93 |
| the same email | +0.1 |
| the same address, folded | +0.15 |
| the same members (size, children, elderly) | +0.15 |

A name alone (0.5) is not enough at the default hold score (0.8): namesakes are common. A shared phone
alone (0.3) is not either: families share phones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import permutations

import jellyfish

from dsrs.registry.identity import folded, name_tokens, normalized_phone, phonetic

NATIONAL_ID_POINTS = 0.5
PHONE_POINTS = 0.3
NAME_POINTS = 0.5
EMAIL_POINTS = 0.1
ADDRESS_POINTS = 0.15
MEMBERS_POINTS = 0.15
# Name similarity earns nothing up to the first and full points from the second: typos and
# transliterations of one name score above 0.93, relatives sharing a family name below 0.85.
NAME_FLOOR, NAME_FULL = 0.80, 0.93
# Tokens that sound alike (the same metaphone) count as at least this similar: transliterations.
SAME_SOUND = 0.93
# A name that drops or adds a token (a middle name) is a little less alike.
TOKEN_COUNT_DIFFERS = 0.95
# Permutations of more tokens than this are not tried: the tokens are compared in sorted order.
MAX_PERMUTED_TOKENS = 3


@dataclass(frozen=True, slots=True)
class Person:
    """What identifies a household, as its registry record has it."""

    region: str
    name: str
    phone: str | None
    national_id: str | None
    email: str | None
    address: str | None
    members: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Resemblance:
    score: float
    matched_fields: tuple[str, ...]


def token_similarity(left: str, right: str) -> float:
    similarity = jellyfish.jaro_winkler_similarity(left, right)
    if similarity < SAME_SOUND and phonetic(left) == phonetic(right):
        return SAME_SOUND
    return similarity


def name_similarity(left: str, right: str) -> float:
    """Token by token, in the order that agrees best: swapped given and family names are the same name."""
    a, b = name_tokens(left), name_tokens(right)
    if not a or not b:
        return 0.0
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    orders: Iterable[tuple[str, ...]]
    if len(longer) <= MAX_PERMUTED_TOKENS:
        orders = permutations(longer, len(shorter))
    else:
        orders = iter([tuple(sorted(longer))[: len(shorter)]])
        shorter = tuple(sorted(shorter))
    best = max(sum(token_similarity(x, y) for x, y in zip(shorter, order, strict=True)) for order in orders)
    similarity = best / len(shorter)
    return similarity * (TOKEN_COUNT_DIFFERS if len(a) != len(b) else 1.0)


def _name_points(similarity: float) -> float:
    share = (similarity - NAME_FLOOR) / (NAME_FULL - NAME_FLOOR)
    return NAME_POINTS * min(1.0, max(0.0, share))


def resemblance(left: Person, right: Person, phone_country: str) -> Resemblance:
    points = 0.0
    matched: list[str] = []
    if left.national_id and right.national_id:
        agree = left.national_id == right.national_id
        points += NATIONAL_ID_POINTS if agree else -NATIONAL_ID_POINTS
        if agree:
            matched.append("national_id")
    if (
        left.phone
        and right.phone
        and normalized_phone(left.phone, phone_country) == normalized_phone(right.phone, phone_country)
    ):
        points += PHONE_POINTS
        matched.append("phone")
    if left.region == right.region:
        name_points = _name_points(name_similarity(left.name, right.name))
        points += name_points
        if name_points > 0:
            matched.append("head_of_household_name")
    if left.email and right.email and left.email.casefold() == right.email.casefold():
        points += EMAIL_POINTS
        matched.append("email")
    if left.address and right.address and folded(left.address) == folded(right.address):
        points += ADDRESS_POINTS
        matched.append("address")
    if left.members == right.members:
        points += MEMBERS_POINTS
        matched.append("members")
    return Resemblance(round(min(1.0, max(0.0, points)), 3), tuple(matched))
