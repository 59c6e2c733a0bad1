"""A new program version re-assesses the whole registry: exactly the households its rules flip change, each
active household gets one assessment under it, and a worker killed midway resumes the job."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.auth.roles import Role
from dsrs.db.engine import create_engine
from dsrs.events.topics import ASSESSED_APPROVED, ASSESSED_DENIED, HOUSEHOLD_INTAKE
from dsrs.programs.deploy import VersionConflict, deploy
from dsrs.rules import DEFAULT_PROGRAMS_DIR, load_programs
from dsrs.settings import Settings
from dsrs_dev.bench.environment import free_port
from dsrs_dev.partner import publish_intake
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import household_fields, synthetic_intake
from tests.integration.conftest import run_dsrs
from tests.integration.saga import SagaWorker, eventually, isolated_worker, settled

pytestmark = pytest.mark.integration

HOUSEHOLDS = 1000
PROGRAMS = 2
SHIPPED = (DEFAULT_PROGRAMS_DIR / "cash-transfer.yaml").read_text()
# Small pages, so that a re-assessment of a few thousand households takes many transactions.
PAGE_SIZE = 10


def cash_transfer(version: str, poverty_line: float) -> str:
    text_ = SHIPPED.replace('version: "2025.1"', f'version: "{version}"')
    text_ = text_.replace("poverty_line: 60.0", f"poverty_line: {poverty_line}")
    assert text_ != SHIPPED
    return text_


def approved(household: dict[str, Any], poverty_line: float) -> bool:
    """cash-transfer's rules, written out here rather than run through DSRS's engine."""
    per_capita = float(household["monthly_income"]) / household["household_size"]
    score = (
        5.0
        + 10.0 * household["has_electricity"]
        + 8.0 * household["has_piped_water"]
        + 6.0 * household["owns_livestock"]
        + 3.0 * household["dwelling_rooms"]
        + 0.3 * per_capita
    )
    covered = household["region"] in ("R01", "R02", "R03", "R04", "R05", "R06")
    return per_capita < poverty_line and round(score, 4) <= 35.0 and covered


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    env = {"DSRS_REASSESSMENT_PAGE_SIZE": str(PAGE_SIZE)}
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("reassess"), env) as worker:
        yield worker


@pytest.fixture(scope="module")
async def engine(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(worker.settings, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
async def registry(worker: SagaWorker, engine: AsyncEngine) -> int:
    messages = list(synthetic_intake(HOUSEHOLDS, ("R01", "R02", "R03", "R07"), seed=23, invalid_share=0.0))
    await publish_intake(worker.settings, messages, topic=worker.settings.topic(HOUSEHOLD_INTAKE))
    registered = len({m.household_id for m in messages})
    await settled(engine, worker, registered, PROGRAMS)
    return registered


async def _deploy(engine: AsyncEngine, worker: SagaWorker, content: str) -> Any:
    async with engine.begin() as connection:
        return await deploy(connection, content, "test", datetime.now(UTC), worker.settings.source_name)


async def _job(engine: AsyncEngine, version: str) -> dict[str, Any]:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT * FROM reassessments WHERE program_id = 'cash-transfer' AND version = :v"), {"v": version}
            )
        ).first()
    return {} if row is None else dict(row._mapping)


async def _first_page_done(engine: AsyncEngine, version: str) -> dict[str, Any]:
    """The job as soon as it has done a page: polled often, so that the worker is killed while it runs."""
    for _ in range(1200):
        job = await _job(engine, version)
        if job.get("done", 0) > 0:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"the re-assessment to {version} did not start")


async def _finished(engine: AsyncEngine, version: str) -> dict[str, Any]:
    return await eventually(lambda: _job(engine, version), lambda job: job.get("status") == "finished")


async def _households(engine: AsyncEngine) -> dict[str, dict[str, Any]]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT * FROM households WHERE status = 'active'"))
        return {str(row.id): dict(row._mapping) for row in rows}


async def _assessments_under(engine: AsyncEngine, version: str) -> dict[str, list[str]]:
    """Per household, its cash-transfer decisions under `version` at its current household version."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT a.household_id, a.decision FROM eligibility_assessments a JOIN households h "
                "ON h.id = a.household_id AND h.version = a.household_version "
                "WHERE a.program_id = 'cash-transfer' AND a.policy_version = :v"
            ),
            {"v": version},
        )
        found: dict[str, list[str]] = {}
        for household_id, decision in rows:
            found.setdefault(str(household_id), []).append(decision)
    return found


async def _decision_events(settings: Settings, version: str) -> list[dict[str, Any]]:
    """The assessed events of cash-transfer under `version` on the worker's topics."""
    consumer = AIOKafkaConsumer(
        settings.topic(ASSESSED_APPROVED),
        settings.topic(ASSESSED_DENIED),
        bootstrap_servers=settings.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    events = []
    try:
        while batches := await consumer.getmany(timeout_ms=3000, max_records=5000):
            for records in batches.values():
                for record in records:
                    data = json.loads(record.value)["data"]
                    if data["program_id"] == "cash-transfer" and data["policy_version"] == version:
                        events.append(data)
    finally:
        await consumer.stop()
    return events


async def test_a_new_version_flips_exactly_the_households_its_rules_say(
    worker: SagaWorker, engine: AsyncEngine, registry: int
) -> None:
    active = await _households(engine)
    before = {household_id for household_id, household in active.items() if approved(household, 60.0)}
    expected_flips = {household_id for household_id in before if not approved(active[household_id], 50.0)}
    assert expected_flips, "the test data must hold households the lower poverty line denies"
    # The formula written out here is the shipped program's: it agrees with every decision under 2025.1.
    under_first = await _assessments_under(engine, "2025.1")
    assert {h for h, (decision,) in under_first.items() if decision == "approved"} == before

    deployed = await _deploy(engine, worker, cash_transfer("2025.2", 50.0))
    assert deployed.created
    assert deployed.activated
    job = await _finished(engine, "2025.2")

    decided = await _assessments_under(engine, "2025.2")
    assert set(decided) == set(active)
    assert all(len(decisions) == 1 for decisions in decided.values())
    now_approved = {household_id for household_id, (decision,) in decided.items() if decision == "approved"}
    assert before - now_approved == expected_flips
    assert now_approved - before == set()
    assert job["approved_to_denied"] == len(expected_flips)
    assert job["denied_to_approved"] == 0
    assert job["done"] == len(active)
    assert job["failed"] == 0
    # Events for the changed households only; the others have their assessment row alone.
    events = await eventually(
        lambda: _decision_events(worker.settings, "2025.2"), lambda seen: len(seen) >= len(expected_flips)
    )
    assert sorted(event["household_id"] for event in events) == sorted(expected_flips)
    assert {event["decision"] for event in events} == {"denied"}
    # The summary tells households eligible now apart from decisions made.
    async with worker.client(Role.AUDITOR) as client:
        summary = (await client.get("/api/v1/analytics/summary", params={"program": "cash-transfer"})).json()
    assert summary["households_eligible"] == len(now_approved)
    assert summary["households_decided"] == len(active)
    assert summary["approved"] > len(now_approved)
    # A cycle opened now pays the households eligible now, under the deployed version.
    await _check_opened_cycle(worker, engine, {h: active[h] for h in now_approved})


async def _check_opened_cycle(worker: SagaWorker, engine: AsyncEngine, eligible: dict[str, dict[str, Any]]) -> None:
    program = {p.id: p for p in load_programs(DEFAULT_PROGRAMS_DIR)}["cash-transfer"]
    cycle = list(islice(program.schedule.cycles_from(date.today()), 3))[-1][0]
    result = run_dsrs("payments", "cycle", "open", "cash-transfer", cycle, env=worker.env)
    assert result.returncode == 0, result.stderr
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT household_id, status FROM payments WHERE program_id = 'cash-transfer' AND cycle = :c"),
            {"c": cycle},
        )
        paid = {str(household_id): status for household_id, status in rows}
    assert set(paid) == set(eligible)


async def test_after_an_update_the_first_versions_decision_on_the_old_data_still_replays(
    worker: SagaWorker, engine: AsyncEngine, registry: int
) -> None:
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT a.id, a.household_id, a.household_version FROM eligibility_assessments a "
                    "JOIN households h ON h.id = a.household_id AND h.version = a.household_version "
                    "WHERE a.program_id = 'cash-transfer' AND a.policy_version = '2025.1' LIMIT 1"
                )
            )
        ).one()
    fields = household_fields(random.Random(31), ("R01",))
    async with worker.client(Role.REGISTRAR) as client:
        updated = await client.put(f"/api/v1/households/{row.household_id}", json=fields)
        assert updated.status_code == 200, updated.text

    async def newest_version() -> int:
        async with engine.connect() as connection:
            found = await connection.scalar(
                text("SELECT max(household_version) FROM household_facts WHERE household_id = :h"),
                {"h": row.household_id},
            )
        return int(found or 0)

    await eventually(newest_version, lambda version: version > row.household_version)
    async with worker.client(Role.AUDITOR) as client:
        explained = (await client.get(f"/api/v1/assessments/{row.id}/explain")).json()

    assert explained["reproduced"] is True, explained
    assert explained["household_version"] == row.household_version
    assert explained["differences"] == []


async def test_deploying_the_same_version_again_changes_nothing(
    worker: SagaWorker, engine: AsyncEngine, registry: int
) -> None:
    before = await _assessments_under(engine, "2025.2")

    again = await _deploy(engine, worker, cash_transfer("2025.2", 50.0))
    with pytest.raises(VersionConflict):
        await _deploy(engine, worker, cash_transfer("2025.2", 45.0))

    assert not again.created
    await asyncio.sleep(2)  # a change, had there been one, would have started a job by now
    assert await _assessments_under(engine, "2025.2") == before
    async with engine.connect() as connection:
        versions = await connection.scalar(text("SELECT count(*) FROM reassessments WHERE version = '2025.2'"))
        stored = await connection.scalar(text("SELECT content FROM program_versions WHERE version = '2025.2'"))
    assert versions == 1
    assert stored == cash_transfer("2025.2", 50.0)


async def test_a_worker_killed_mid_reassessment_resumes_it_once(
    worker: SagaWorker, engine: AsyncEngine, registry: int
) -> None:
    await _deploy(engine, worker, cash_transfer("2025.3", 55.0))
    running = await _first_page_done(engine, "2025.3")
    assert running["status"] == "running", "the job must still be running when the worker is killed"
    worker.kill()
    worker.start()

    job = await _finished(engine, "2025.3")

    active = await _households(engine)
    decided = await _assessments_under(engine, "2025.3")
    assert set(decided) == set(active)
    assert all(len(decisions) == 1 for decisions in decided.values())
    assert job["done"] >= len(active)
    expected = {h for h, household in active.items() if approved(household, 55.0)}
    assert {h for h, (decision,) in decided.items() if decision == "approved"} == expected


async def test_two_workers_both_decide_under_the_version_activated(
    worker: SagaWorker, engine: AsyncEngine, registry: int, tmp_path: Path
) -> None:
    second = SagaWorker(
        worker.settings.model_copy(update={"web_port": free_port(), "data_dir": tmp_path / "second"}),
        tmp_path / "second.log",
        worker.extra_env,
    )
    second.start()
    try:
        await _deploy(engine, worker, cash_transfer("2025.4", 52.0))
        rng = random.Random(29)
        registered = []
        for api in (worker, second):
            async with api.client(Role.REGISTRAR) as client:
                for _ in range(20):
                    response = await client.post("/api/v1/households", json=household_fields(rng, ("R01", "R02")))
                    assert response.status_code == 201, response.text
                    registered.append(response.json()["id"])

        async def decided() -> dict[str, list[str]]:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text(
                        "SELECT household_id, policy_version FROM eligibility_assessments "
                        "WHERE program_id = 'cash-transfer' AND household_id = ANY(CAST(:ids AS uuid[]))"
                    ),
                    {"ids": registered},
                )
                found: dict[str, list[str]] = {}
                for household_id, version in rows:
                    found.setdefault(str(household_id), []).append(version)
            return found

        found = await eventually(decided, lambda seen: len(seen) == len(registered))
        # Whichever worker took each one: decided once, under the version activated before it came.
        assert all(versions == ["2025.4"] for versions in found.values()), found
        await _finished(engine, "2025.4")
    finally:
        second.stop()
