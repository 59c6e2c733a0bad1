"""Realistic synthetic households for the demo, the tests and the benchmark (seeded, so repeatable).

The names and phone numbers are made up, but shaped like real ones, so that scrubbing and validation
are exercised as they would be with real registry data.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from dsrs.events import topics
from dsrs.events.envelope import SCHEMA_VERSION
from dsrs.events.ids import new_uuid
from dsrs.monitoring.trace_context import TRACEPARENT, new_traceparent

ONSETS = ("b", "ch", "d", "f", "g", "h", "j", "k", "l", "m", "n", "ng", "p", "r", "s", "sh", "t", "v", "w", "y", "z")
VOWELS = ("a", "e", "i", "o", "u")


def made_up_name(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(ONSETS) + rng.choice(VOWELS) for _ in range(syllables)).capitalize()


def _names(seed: int, size: int, known: tuple[str, ...]) -> tuple[str, ...]:
    """Made-up names of 2-3 syllables beside known ones: as many distinct names as a real registry meets,
    so that duplicate matching compares a household with a few look-alikes, not with a crowd of namesakes."""
    rng = random.Random(seed)  # noqa: S311 - repeatable test data, not secrets
    return tuple(sorted({made_up_name(rng, rng.choice((2, 3))) for _ in range(size)} | set(known)))


GIVEN = _names(1, 1500, ("Amina", "Kofi", "Maria", "Juan", "Fatima", "Tendai", "Nguyen", "Priya", "Ahmed", "Grace"))
FAMILY = _names(2, 3000, ("Okafor", "Mensah", "Silva", "Garcia", "Haddad", "Moyo", "Tran", "Sharma", "Hassan", "Banda"))


@dataclass(frozen=True)
class IntakeMessage:
    household_id: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    valid: bool
    # When it was submitted, as its envelope says; None for a value that is no event at all.
    time: datetime | None = None


def household_fields(rng: random.Random, regions: tuple[str, ...]) -> dict[str, Any]:
    size = rng.choices(range(1, 11), weights=(6, 10, 14, 16, 15, 12, 10, 8, 5, 4))[0]
    under_5 = rng.randint(0, min(2, size - 1))
    school_age = rng.randint(0, max(0, size - 1 - under_5))
    elderly = rng.randint(0, max(0, min(2, size - under_5 - school_age)))
    # Incomes skewed low, as in the households such programs serve.
    income = round(rng.lognormvariate(5.3, 0.8), 2)
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    return {
        "head_of_household_name": f"{given} {family}",
        "phone": f"+2547{rng.randint(10_000_000, 99_999_999)}",
        "email": f"{given.lower()}.{family.lower()}{rng.randint(1, 999)}@example.org" if rng.random() < 0.4 else None,
        "address": f"{rng.randint(1, 400)} Market Road",
        "region": rng.choice(regions),
        "household_size": size,
        "children_under_5": under_5,
        "children_5_to_17": school_age,
        "elderly_members": elderly,
        "disabled_members": 1 if rng.random() < 0.08 else 0,
        "monthly_income": income,
        "dwelling_rooms": rng.randint(1, 5),
        "has_electricity": rng.random() < 0.55,
        "has_piped_water": rng.random() < 0.45,
        "owns_livestock": rng.random() < 0.3,
    }


def intake_message(household_id: str, data: dict[str, Any], source: str = "partner-demo") -> IntakeMessage:
    submitted = datetime.now(UTC)
    envelope = {
        "event_id": new_uuid(),
        "type": topics.HOUSEHOLD_INTAKE,
        "time": submitted.isoformat(),
        "source": source,
        "subject": household_id,
        "schema_version": SCHEMA_VERSION,
        "data": data,
    }
    return IntakeMessage(
        household_id,
        household_id.encode(),
        orjson.dumps(envelope),
        [(TRACEPARENT, new_traceparent().encode())],
        valid=True,
        time=submitted,
    )


def _household_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _invalid(rng: random.Random, regions: tuple[str, ...]) -> IntakeMessage:
    household_id = _household_id(rng)
    data = household_fields(rng, regions)
    kind = rng.randrange(4)
    if kind == 0:
        data["region"] = "XX99"
    elif kind == 1:
        data["monthly_income"] = -10
    elif kind == 2:
        data["household_size"] = 0
    else:
        return IntakeMessage(household_id, household_id.encode(), b"{not json", [], valid=False)
    message = intake_message(household_id, data)
    return IntakeMessage(message.household_id, message.key, message.value, message.headers, False, message.time)


def synthetic_intake(
    count: int, regions: tuple[str, ...], seed: int = 7, update_share: float = 0.05, invalid_share: float = 0.01
) -> Iterator[IntakeMessage]:
    """`count` messages: new households, some updates of earlier ones, a few invalid submissions."""
    rng = random.Random(seed)  # noqa: S311 - repeatable test data, not secrets
    registered: list[tuple[str, dict[str, Any]]] = []
    for _ in range(count):
        roll = rng.random()
        if roll < invalid_share:
            yield _invalid(rng, regions)
        elif roll < invalid_share + update_share and registered:
            household_id, data = rng.choice(registered)
            changed = {**data, "monthly_income": round(data["monthly_income"] * rng.uniform(0.5, 1.6), 2)}
            yield intake_message(household_id, changed)
        else:
            household_id = _household_id(rng)
            data = household_fields(rng, regions)
            registered.append((household_id, data))
            yield intake_message(household_id, data)
