"""A synthetic registry with known duplicates, for `dsrs bench dedup` (seeded, so repeatable).

Every family is registered once; some a second time under another id, as a second partner would send
it: the name with a typo, transliterated, without its accents or in swapped order, the phone written in
the local format, sometimes without the phone but with the national id. Look-alikes that are two
families are there too: relatives sharing a phone and an address, and namesakes in one region.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

from dsrs_dev.synthetic import VOWELS, IntakeMessage, household_fields, intake_message, made_up_name

# Spellings of one name across transliterations; the generator also uses them as ordinary names.
TRANSLITERATIONS = (
    ("Mohammed", "Muhammad"),
    ("Ahmed", "Ahmad"),
    ("Hassan", "Hasan"),
    ("Fatima", "Fatuma"),
    ("Tendai", "Tendayi"),
    ("Yusuf", "Youssef"),
    ("Aleksandr", "Alexander"),
    ("Olha", "Olga"),
    ("Mykhailo", "Mikhail"),
    ("Abdulla", "Abdullah"),
    ("Hussein", "Husein"),
    ("Chinedu", "Chinedou"),
)
ACCENTED = ("José", "María", "Zoë", "Renée", "Sérgio", "Inês", "Müller", "Nguyễn", "Çelik", "Øyvind")


@dataclass(frozen=True)
class DuplicateRegistry:
    messages: list[IntakeMessage]
    # Each known duplicate as the unordered pair of its two household ids.
    pairs: set[frozenset[str]]
    relatives_sharing_a_phone: int
    namesakes: int


def _name_pool(rng: random.Random, size: int) -> list[str]:
    """Made-up names of 2-3 syllables, with the transliterated and accented ones among them."""
    made = {made_up_name(rng, rng.choice((2, 3))) for _ in range(size)}
    return sorted(made | {pair[0] for pair in TRANSLITERATIONS} | set(ACCENTED))


def _typo(rng: random.Random, token: str) -> str:
    """One slip of the keyboard, never the first letter."""
    if len(token) < 4:
        return token + rng.choice(VOWELS)
    at = rng.randrange(1, len(token) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return token[:at] + rng.choice("abcdefghijklmnopqrstuvwxyz") + token[at + 1 :]
    if kind == 1:
        return token[:at] + token[at + 1 :]
    return token[:at] + token[at + 1] + token[at] + token[at + 2 :]


def _without_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _variant(rng: random.Random, name: str) -> str:
    given, family = name.split(" ", 1)
    spellings = dict(TRANSLITERATIONS)
    kind = rng.randrange(4)
    if kind == 0 and (given in spellings or family in spellings):
        return f"{spellings.get(given, given)} {spellings.get(family, family)}"
    if kind == 1:
        return f"{family} {given}"
    if kind == 2 and _without_accents(name) != name:
        return _without_accents(name)
    return f"{given} {_typo(rng, family)}" if rng.random() < 0.5 else f"{_typo(rng, given)} {family}"


def _local_format(rng: random.Random, phone: str) -> str:
    national = "0" + phone.removeprefix("+254")
    forms = (
        f"{national[:4]} {national[4:7]} {national[7:]}",
        f"{national[:4]}-{national[4:7]}-{national[7:]}",
        f"+254 {phone[4:7]} {phone[7:10]} {phone[10:]}",
        national,
    )
    return rng.choice(forms)


def _email(name: str, number: int) -> str:
    return f"{_without_accents(name).lower().replace(' ', '.')}{number}@example.org"


def _household_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def duplicate_registry(
    households: int, regions: tuple[str, ...], seed: int = 27, duplicate_share: float = 0.1, phone_prefix: str = "7"
) -> DuplicateRegistry:
    """`households` families, then a second registration of `duplicate_share` of them."""
    rng = random.Random(seed)  # noqa: S311 - repeatable test data, not secrets
    given_names, family_names = _name_pool(rng, 1500), _name_pool(rng, 3000)
    phones = rng.sample(range(10_000_000, 100_000_000), households)
    families: list[tuple[str, dict[str, Any]]] = []
    relatives = namesakes = 0
    for number in range(households):
        data = household_fields(rng, regions)
        data["head_of_household_name"] = f"{rng.choice(given_names)} {rng.choice(family_names)}"
        data["phone"] = f"+254{phone_prefix}{phones[number]:08d}"[:13] if rng.random() < 0.85 else None
        data["national_id"] = f"N{seed:03d}{number:08d}" if rng.random() < 0.5 else None
        data["email"] = _email(data["head_of_household_name"], number) if rng.random() < 0.3 else None
        roll = rng.random()
        if roll < 0.05 and families:
            # A relative: another given name, the same family name, phone and address.
            kin = rng.choice(families)[1]
            family_name = kin["head_of_household_name"].split(" ", 1)[1]
            data.update(region=kin["region"], phone=kin["phone"], address=kin["address"])
            data["head_of_household_name"] = f"{rng.choice(given_names)} {family_name}"
            relatives += 1
        elif roll < 0.10 and families:
            # A namesake: the same name in the same region, nothing else in common.
            other = rng.choice(families)[1]
            data.update(region=other["region"], head_of_household_name=other["head_of_household_name"])
            namesakes += 1
        families.append((_household_id(rng), data))
    messages = [intake_message(household_id, data) for household_id, data in families]
    pairs: set[frozenset[str]] = set()
    for household_id, data in rng.sample(families, int(households * duplicate_share)):
        second = {**data, "head_of_household_name": _variant(rng, data["head_of_household_name"])}
        second["monthly_income"] = round(data["monthly_income"] * rng.uniform(0.8, 1.2), 2)
        if data["phone"] and data["national_id"] and rng.random() < 0.2:
            second["phone"] = None
        elif data["phone"]:
            second["phone"] = _local_format(rng, data["phone"])
        duplicate_id = _household_id(rng)
        messages.append(intake_message(duplicate_id, second, source="partner-b"))
        pairs.add(frozenset((household_id, duplicate_id)))
    return DuplicateRegistry(messages, pairs, relatives, namesakes)
