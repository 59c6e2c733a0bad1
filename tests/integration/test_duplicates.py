"""Deduplication at registration on the real stack: known duplicates raised and held, non-duplicates left
alone, an officer's merge and dismissal, and a replayed intake topic raising nothing twice.

The tests of this module share one worker and run in order, each building on the state the previous left.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.auth.roles import Role
from dsrs.db.schema import duplicate_pairs, households
from dsrs.events import topics
from dsrs.kafka.admin import delete_deployment_topics
from dsrs.kafka.lag import rewind_group
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings
from dsrs_dev.partner import publish_intake
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import intake_message
from tests.integration.saga import SagaWorker, engine_of, eventually, isolated_worker, settled, topic_records

pytestmark = pytest.mark.integration

ENV = {
    # Every payment is due within the dispatcher's horizon at once: only a hold keeps one from being sent.
    "DSRS_PAYMENT_SEND_AHEAD_DAYS": "62",
    "DSRS_PROVIDER_FAILURE_RATE": "0",
    "DSRS_PROVIDER_LATENCY_SECONDS": "0.2",
    "DSRS_REGIONS": "R01,R02",
    "DSRS_PHONE_COUNTRY": "KE",
}


def family(name: str, **fields: Any) -> dict[str, Any]:
    """A poor household that every shipped program approves."""
    return {
        "head_of_household_name": name,
        "region": "R01",
        "household_size": 5,
        "children_under_5": 1,
        "children_5_to_17": 2,
        "monthly_income": 20,
        **fields,
    }


# (first registration, second registration under another id): the same family.
KNOWN_DUPLICATES = {
    "swapped name, phone in local format": (
        family("Amina Okafor", phone="+254712345678"),
        family("Okafor Amina", phone="0712 345 678"),
    ),
    "transliteration, national id with separators": (
        family("Mohammed Hassan", national_id="A1234567"),
        family("Muhammad Hasan", national_id="a-123 4567", household_size=6),
    ),
    "accents, phone with hyphens": (
        family("José García", phone="+254 733 111 222", address="12 Market Road"),
        family("Jose Garcia", phone="0733-111-222", address="12 market road"),
    ),
    "typo": (
        family("Tendai Moyo", phone="+254700555666"),
        family("Tendai Moyp", phone="0700555666"),
    ),
}
# Pairs that look alike but are two families.
NOT_DUPLICATES = {
    "brothers sharing a phone": (
        family("Kofi Mensah", phone="+254722000111", address="4 Hill Lane"),
        family("Kwame Mensah", phone="0722 000 111", address="4 Hill Lane", household_size=3, children_5_to_17=1),
    ),
    "namesakes in one region": (
        family("Grace Banda", phone="+254711000222"),
        family("Grace Banda", phone="+254711000333", household_size=2, children_under_5=0, children_5_to_17=1),
    ),
    "one name, two national ids": (
        family("Luis Rojas", national_id="B7654321", phone="+254744000444"),
        family("Luis Rojas", national_id="C1111111", phone="+254744000444"),
    ),
}


def _new_id() -> str:
    return str(uuid.uuid4())


IDS = {label: (_new_id(), _new_id()) for label in (*KNOWN_DUPLICATES, *NOT_DUPLICATES)}


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    started: list[SagaWorker] = []
    try:
        with isolated_worker(stack, settings, tmp_path_factory.mktemp("duplicates"), ENV) as worker:
            started.append(worker)
            yield worker
    finally:
        # The broker keeps every topic's files: a test's own go with it.
        for deployment in started:
            asyncio.run(delete_deployment_topics(deployment.settings))


@pytest.fixture(scope="module")
async def engine(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    async with engine_of(worker) as engine:
        yield engine


@pytest.fixture(scope="module")
def programs(worker: SagaWorker) -> int:
    return len(active_programs(load_programs(worker.settings.programs_dir)))


async def _publish(worker: SagaWorker, submissions: list[tuple[str, dict[str, Any]]]) -> None:
    messages = [intake_message(household_id, data) for household_id, data in submissions]
    await publish_intake(worker.settings, messages, topic=worker.settings.topic(topics.HOUSEHOLD_INTAKE))


async def _pairs(engine: AsyncEngine) -> dict[frozenset[str], Any]:
    async with engine.connect() as connection:
        rows = (await connection.execute(select(duplicate_pairs))).all()
    return {frozenset((str(row.household_id), str(row.candidate_id))): row for row in rows}


async def _payment_statuses(engine: AsyncEngine, household_id: str) -> list[str]:
    async with engine.connect() as connection:
        found = await connection.execute(
            text("SELECT status FROM payments WHERE household_id = :id"), {"id": uuid.UUID(household_id)}
        )
        return [str(status) for (status,) in found]


def _pair_of(pairs: dict[frozenset[str], Any], label: str) -> Any:
    return pairs[frozenset(IDS[label])]


async def test_known_duplicates_are_raised_and_held_and_the_others_are_not(
    worker: SagaWorker, engine: AsyncEngine, programs: int
) -> None:
    everything = {**KNOWN_DUPLICATES, **NOT_DUPLICATES}
    # The first registrations first, so that each second one is the household raised on (and held).
    await _publish(worker, [(IDS[label][0], first) for label, (first, _) in everything.items()])
    await settled(engine, worker, len(everything), programs)
    await _publish(worker, [(IDS[label][1], second) for label, (_, second) in everything.items()])
    await settled(engine, worker, 2 * len(everything), programs)

    pairs = await _pairs(engine)
    assert set(pairs) == {frozenset(IDS[label]) for label in KNOWN_DUPLICATES}
    for label in KNOWN_DUPLICATES:
        pair = _pair_of(pairs, label)
        assert (str(pair.household_id), str(pair.candidate_id)) == (IDS[label][1], IDS[label][0])
        assert pair.status == "suspected"
        assert pair.score >= worker.settings.duplicate_hold_score
    async with worker.client(Role.AUDITOR) as auditor:
        queue = await auditor.get("/api/v1/duplicates", params={"region": "R01", "score": "0.8", "status": "suspected"})
        elsewhere = await auditor.get("/api/v1/duplicates", params={"region": "R02"})
    assert {item["id"] for item in queue.json()["items"]} == {str(pair.id) for pair in pairs.values()}
    assert elsewhere.json()["items"] == []
    assert "phone" in _pair_of(pairs, "swapped name, phone in local format").matched_fields
    assert "national_id" in _pair_of(pairs, "transliteration, national id with separators").matched_fields

    # Payments of the households not held are sent; none of a held one's is.
    first = IDS["swapped name, phone in local format"][0]
    await eventually(lambda: _payment_statuses(engine, first), lambda seen: bool(seen) and "scheduled" not in seen)
    for label in KNOWN_DUPLICATES:
        held = await _payment_statuses(engine, IDS[label][1])
        assert held, label
        assert set(held) == {"scheduled"}, label


async def test_the_suspected_event_carries_ids_score_and_field_names_only(worker: SagaWorker) -> None:
    settings = worker.settings
    records = await topic_records(settings, settings.topic(topics.HOUSEHOLD_DUPLICATE_SUSPECTED))
    events = [orjson.loads(record.value) for record in records]
    assert len(events) == len(KNOWN_DUPLICATES)
    for event in events:
        assert set(event["data"]) == {"pair_id", "household_id", "candidate_id", "score", "matched_fields"}
        assert set(event["data"]["matched_fields"]) <= {
            "national_id",
            "phone",
            "head_of_household_name",
            "email",
            "address",
            "members",
        }


async def test_merge_keeps_one_household_and_deactivates_the_other(worker: SagaWorker, engine: AsyncEngine) -> None:
    label = "swapped name, phone in local format"
    keep, leaving = IDS[label]
    pair_id = str(_pair_of(await _pairs(engine), label).id)
    async with worker.client(Role.PROGRAM_OFFICER) as officer:
        into_itself = await officer.post(f"/api/v1/duplicates/{pair_id}/merge", json={"keep": keep, "merge": keep})
        merged = await officer.post(f"/api/v1/duplicates/{pair_id}/merge", json={"keep": keep})
        again = await officer.post(f"/api/v1/duplicates/{pair_id}/merge", json={"keep": keep})
        dismissed_after = await officer.post(f"/api/v1/duplicates/{pair_id}/dismiss")
        listed = await officer.get("/api/v1/duplicates", params={"status": "merged"})
    assert into_itself.status_code == 409
    assert into_itself.json()["current"]["status"] == "suspected"
    assert merged.status_code == 200, merged.text
    assert merged.json()["status"] == "merged"
    assert merged.json()["kept_household_id"] == keep
    for refused in (again, dismissed_after):
        assert refused.status_code == 409
        assert refused.json()["current"]["status"] == "merged"
    assert [item["id"] for item in listed.json()["items"]] == [pair_id]

    async with engine.connect() as connection:
        status = {
            str(row.id): (row.status, row.status_reason)
            for row in await connection.execute(
                select(households.c.id, households.c.status, households.c.status_reason).where(
                    households.c.id.in_([uuid.UUID(keep), uuid.UUID(leaving)])
                )
            )
        }
        actions = (await connection.execute(text("SELECT action FROM audit_log ORDER BY id"))).scalars().all()
    assert status == {keep: ("active", None), leaving: ("inactive", "duplicate")}
    assert {"duplicate.merge", "household.deactivate"} <= set(actions)
    cancelled = await eventually(
        lambda: _payment_statuses(engine, leaving), lambda seen: bool(seen) and set(seen) == {"cancelled"}
    )
    assert cancelled

    async with worker.client(Role.AUDITOR) as auditor:
        both = [(await auditor.get(f"/api/v1/households/{household}")).json() for household in (keep, leaving)]
    assert [[pair["id"] for pair in household["duplicates"]] for household in both] == [[pair_id], [pair_id]]


async def test_a_dismissed_pair_is_not_raised_again_and_its_household_is_paid(
    worker: SagaWorker, engine: AsyncEngine, programs: int
) -> None:
    label = "accents, phone with hyphens"
    first, second = IDS[label]
    pair_id = str(_pair_of(await _pairs(engine), label).id)
    async with worker.client(Role.REGISTRAR) as registrar:
        dismissed = await registrar.post(f"/api/v1/duplicates/{pair_id}/dismiss")
        assert dismissed.status_code == 200, dismissed.text
        replaced = await registrar.put(f"/api/v1/households/{first}", json=KNOWN_DUPLICATES[label][0])
        assert replaced.status_code == 200, replaced.text
    changed = {**KNOWN_DUPLICATES[label][1], "monthly_income": 25}
    await _publish(worker, [(second, changed)])
    await eventually(lambda: _payment_statuses(engine, second), lambda seen: "sent" in seen or "completed" in seen)
    await settled(engine, worker, 2 * len({**KNOWN_DUPLICATES, **NOT_DUPLICATES}), programs)
    pairs = await _pairs(engine)
    assert len(pairs) == len(KNOWN_DUPLICATES)
    assert _pair_of(pairs, label).status == "dismissed"
    async with engine.connect() as connection:
        audited = await connection.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'duplicate.dismiss'"))
    assert audited == 1


async def test_bad_input_is_a_field_error(worker: SagaWorker, engine: AsyncEngine) -> None:
    async with worker.client(Role.REGISTRAR) as registrar:
        bad_id = await registrar.post("/api/v1/households", json=family("Zanele Dube", national_id="12"))
        unknown_pair = await registrar.post(f"/api/v1/duplicates/{uuid.uuid4()}/dismiss")
        pair_id = str(_pair_of(await _pairs(engine), "typo").id)
        outsider = await registrar.post(f"/api/v1/duplicates/{pair_id}/merge", json={"keep": str(uuid.uuid4())})
        bad_score = await registrar.get("/api/v1/duplicates", params={"score": "2"})
    assert bad_id.status_code == 422
    assert [error["field"] for error in bad_id.json()["errors"]] == ["national_id"]
    assert unknown_pair.status_code == 404
    assert outsider.status_code == 422
    assert bad_score.status_code == 422


async def test_replaying_the_intake_topic_raises_no_pair_twice(
    worker: SagaWorker, engine: AsyncEngine, programs: int
) -> None:
    before = await _pairs(engine)
    async with engine.connect() as connection:
        count = int(await connection.scalar(text("SELECT count(*) FROM households")) or 0)
    worker.stop()
    settings = worker.settings
    await rewind_group(settings.bootstrap_servers, settings.app_id, [settings.topic(topics.HOUSEHOLD_INTAKE)])
    assert await worker.lag() > 0
    worker.start()
    await settled(engine, worker, count, programs)
    after = await _pairs(engine)
    assert {pair: row.status for pair, row in after.items()} == {pair: row.status for pair, row in before.items()}
