"""Dead letters on the real stack: nothing lost whatever a message's size, nothing personal in what a
database error leaves behind, and the reprocess agent recovering letters once their cause is fixed."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text

from dsrs.dlq.replay import read_dead_letters
from dsrs.events.topics import HOUSEHOLD_INTAKE, dead_letter_topic
from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import household_fields, intake_message
from tests.integration.saga import SagaWorker, engine_of, eventually, isolated_worker

pytestmark = pytest.mark.integration

ACCEPTED = "R01,R02"


@pytest.fixture
def worker(stack: Stack, settings: Settings, tmp_path: Path) -> Iterator[SagaWorker]:
    with isolated_worker(stack, settings, tmp_path, {"DSRS_REGIONS": ACCEPTED}) as worker:
        yield worker


def _households(count: int, region: str, seed: int) -> list[tuple[str, dict[str, object]]]:
    rng = random.Random(seed)
    return [(str(uuid.uuid4()), {**household_fields(rng, (region,)), "region": region}) for _ in range(count)]


async def _send(settings: Settings, messages: list[tuple[bytes, bytes]]) -> None:
    """In this order, each with its key, as a partner could; large messages allowed."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, max_request_size=2 * 1024 * 1024)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(settings.topic(HOUSEHOLD_INTAKE), value, key=key)
    finally:
        await producer.stop()


def _intake(household_id: str, data: dict[str, object]) -> tuple[bytes, bytes]:
    message = intake_message(household_id, data)
    return message.key, message.value


async def _count(worker: SagaWorker, sql: str, **params: object) -> int:
    async with engine_of(worker) as engine, engine.connect() as connection:
        return int(await connection.scalar(text(sql), params) or 0)


async def _letters(worker: SagaWorker) -> dict[str, tuple[str, str, bool]]:
    async with engine_of(worker) as engine, engine.connect() as connection:
        rows = await connection.execute(text("SELECT letter_id, state, cause, held_in_database FROM dead_letters"))
        return {row.letter_id: (row.state, row.cause, row.held_in_database) for row in rows}


async def test_an_oversized_invalid_message_is_held_and_the_messages_around_it_are_applied(worker: SagaWorker) -> None:
    valid = _households(10, "R01", seed=1)
    padded = orjson.dumps({"padding": "x" * 1_048_400})
    # Keyed as the first household: on its partition, after it.
    messages = [_intake(*h) for h in valid[:5]] + [(valid[0][0].encode(), padded)] + [_intake(*h) for h in valid[5:]]
    await _send(worker.settings, messages)
    ids = [household_id for household_id, _ in valid]
    applied = await eventually(
        lambda: _count(worker, "SELECT count(*) FROM households WHERE id = ANY(CAST(:ids AS uuid[]))", ids=ids),
        lambda count: count == 10,
    )
    assert applied == 10
    letters = await eventually(lambda: _letters(worker), lambda seen: len(seen) == 1)
    [(letter_id, (state, cause, held))] = letters.items()
    assert letter_id.startswith(f"db:{worker.settings.topic(HOUSEHOLD_INTAKE)}:")
    assert (state, cause, held) == ("parked", "content", True)


async def test_letters_of_an_unknown_region_are_recovered_once_the_region_is_accepted(worker: SagaWorker) -> None:
    unknown = _households(3, "R03", seed=2)
    await _send(worker.settings, [_intake(*h) for h in unknown] + [(b"not-a-household", b"not json")])
    letters = await eventually(lambda: _letters(worker), lambda seen: len(seen) == 4)
    assert sorted(letters.values()) == [("parked", "content", False)] + [("waiting", "regions", False)] * 3
    # Nothing changed yet: the agent leaves them waiting.
    await asyncio.sleep(2 * 5.0)
    assert sorted(state for state, _, _ in (await _letters(worker)).values()) == [
        "parked",
        "waiting",
        "waiting",
        "waiting",
    ]

    worker.stop()
    worker.extra_env["DSRS_REGIONS"] = ACCEPTED + ",R03"
    worker.start()
    settled = await eventually(
        lambda: _letters(worker), lambda seen: sorted(s for s, _, _ in seen.values()).count("recovered") == 3
    )
    assert sorted(state for state, _, _ in settled.values()) == ["parked", "recovered", "recovered", "recovered"]
    ids = [household_id for household_id, _ in unknown]
    assert await _count(worker, "SELECT count(*) FROM households WHERE id = ANY(CAST(:ids AS uuid[]))", ids=ids) == 3
    # Each applied once: one version each, one claim each.
    assert (
        await _count(
            worker, "SELECT count(*) FROM households WHERE version <> 1 AND id = ANY(CAST(:ids AS uuid[]))", ids=ids
        )
        == 0
    )


NAMES = ("Ngozi Adebayo-Quist", "Екатерина Смирнова", "प्रियंका शर्मा")
PHONES = ("+254 711 222 333", "+7 912 345-67-89", "+91 98765 43210")
ADDRESSES = ("14 Baobab Lane", "ул. Ленина, 7", "गली नंबर 5, जयपुर")


async def _dead_letters(settings: Settings) -> list[bytes]:
    """Each letter's value and header values, as one byte string."""
    topic = settings.topic(dead_letter_topic(HOUSEHOLD_INTAKE))
    letters = await read_dead_letters(settings.bootstrap_servers, [topic])
    return [b"".join([letter.value or b"", *(value for _, value in letter.headers)]) for letter in letters]


async def test_a_database_error_on_personal_fields_leaves_them_nowhere(worker: SagaWorker) -> None:
    # The database refuses these households whatever is in them, as it would on a violated constraint.
    async with engine_of(worker) as engine, engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE FUNCTION refuse_household() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'household refused by policy'; END $$"
            )
        )
        await connection.execute(
            text("CREATE TRIGGER refuse BEFORE INSERT ON households FOR EACH ROW EXECUTE FUNCTION refuse_household()")
        )
    households = [
        (str(uuid.uuid4()), {**fields, "head_of_household_name": name, "phone": phone, "address": address})
        for (_, fields), name, phone, address in zip(
            _households(3, "R01", seed=3), NAMES, PHONES, ADDRESSES, strict=True
        )
    ]
    await _send(worker.settings, [_intake(*h) for h in households])
    await eventually(lambda: _letters(worker), lambda seen: len(seen) == 3)
    letters = await _dead_letters(worker.settings)
    assert len(letters) == 3
    log = worker.log_path.read_text()
    assert "household refused by policy" in log
    spans = orjson.dumps(worker.spans()).decode()
    headers_only = [letter.split(b"{", 1)[0] for letter in letters]
    for secret in (*NAMES, *PHONES, *ADDRESSES):
        assert secret not in log
        assert secret not in spans
        assert not any(secret.encode() in header for header in headers_only)
    async with engine_of(worker) as engine, engine.connect() as connection:
        messages = [
            str(m) for m in (await connection.execute(text("SELECT error_message FROM dead_letters"))).scalars()
        ]
    assert not any(secret in message for message in messages for secret in (*NAMES, *PHONES, *ADDRESSES))


async def test_content_the_database_used_to_refuse_is_a_validation_letter(worker: SagaWorker) -> None:
    [(nul_id, nul), (rich_id, rich)] = _households(2, "R01", seed=4)
    nul = {**nul, "head_of_household_name": "Amina\x00Okafor", "address": "1 Road\x00"}
    rich = {**rich, "monthly_income": 10**13}
    await _send(worker.settings, [_intake(nul_id, nul), _intake(rich_id, rich)])
    await eventually(lambda: _letters(worker), lambda seen: len(seen) == 2)
    async with engine_of(worker) as engine, engine.connect() as connection:
        rows = (await connection.execute(text("SELECT error_class, error_message, cause FROM dead_letters"))).all()
    assert {row.error_class for row in rows} == {"dsrs.registry.household.InvalidHousehold"}
    assert {row.cause for row in rows} == {"content"}
    messages = sorted(row.error_message for row in rows)
    assert "monthly_income" in messages[0] or "monthly_income" in messages[1]
    assert any("head_of_household_name" in message for message in messages)
    assert await _count(worker, "SELECT count(*) FROM households") == 0


async def test_a_message_keyed_otherwise_than_by_its_subject_is_a_letter_and_registers_nothing(
    worker: SagaWorker,
) -> None:
    [(stray_id, stray), (keyed_id, keyed)] = _households(2, "R01", seed=5)
    # Keyed as another household, it could land on another partition than that household's other messages.
    misrouted = (str(uuid.uuid4()).encode(), intake_message(stray_id, stray).value)
    await _send(worker.settings, [misrouted, _intake(keyed_id, keyed)])
    await eventually(lambda: _letters(worker), lambda seen: len(seen) == 1)
    async with engine_of(worker) as engine, engine.connect() as connection:
        row = (await connection.execute(text("SELECT error_class, error_message, cause FROM dead_letters"))).one()
    assert row.error_class == "dsrs.registry.intake.KeyNotSubject"
    assert row.error_message.startswith("key: must be the subject")
    assert row.cause == "content"
    registered = "SELECT count(*) FROM households WHERE id = CAST(:id AS uuid)"
    assert await eventually(lambda: _count(worker, registered, id=keyed_id), lambda count: count == 1) == 1
    assert await _count(worker, registered, id=stray_id) == 0
