"""The saga end to end on the real stack: intake and API in, decisions, payments and KPIs out.

The tests of this module share one worker and one database and run in order: each builds on the
state the previous one left, as a program's registry would.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.auth.roles import Role
from dsrs.db.engine import create_engine
from dsrs.db.schema import analytics_counters, eligibility_assessments, households, payments, processed_events
from dsrs.events.topics import HOUSEHOLD_INTAKE, dead_letter_topic
from dsrs.kafka.lag import rewind_group
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings
from dsrs_dev.partner import publish_intake
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import IntakeMessage, household_fields, intake_message, synthetic_intake
from tests.integration.saga import (
    SagaWorker,
    assert_saga_consistent,
    eventually,
    isolated_worker,
    mongo_kpis,
    postgres_kpis,
    settled,
    topic_records,
)

pytestmark = pytest.mark.integration

INTAKE_HOUSEHOLDS = 500
API_HOUSEHOLDS = 50


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("saga")) as worker:
        yield worker


@pytest.fixture(scope="module")
def saga_settings(worker: SagaWorker) -> Settings:
    return worker.settings


@pytest.fixture(scope="module")
async def saga_engine(saga_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(saga_settings, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
def programs(saga_settings: Settings) -> int:
    return len(active_programs(load_programs(saga_settings.programs_dir)))


@pytest.fixture(scope="module")
def intake() -> list[IntakeMessage]:
    return list(synthetic_intake(INTAKE_HOUSEHOLDS, ("R01", "R02", "R03", "R04"), seed=11, invalid_share=0.03))


async def _publish(settings: Settings, messages: list[IntakeMessage]) -> None:
    await publish_intake(settings, messages, topic=settings.topic(HOUSEHOLD_INTAKE))


async def _dead_letters(settings: Settings, topic: str) -> list[Any]:
    return await topic_records(settings, settings.topic(dead_letter_topic(topic)))


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as connection:
        return {
            table.name: int(await connection.scalar(select(func.count()).select_from(table)) or 0)
            for table in (households, eligibility_assessments, payments, processed_events)
        } | {
            "counted": int(await connection.scalar(select(func.coalesce(func.sum(analytics_counters.c.count), 0))) or 0)
        }


async def _summary(worker: SagaWorker) -> dict[str, Any]:
    async with worker.client(Role.AUDITOR) as client:
        response = await client.get("/api/v1/analytics/summary")
    response.raise_for_status()
    summary: dict[str, Any] = response.json()
    return summary


async def test_households_in_through_intake_and_api(
    worker: SagaWorker,
    saga_settings: Settings,
    saga_engine: AsyncEngine,
    programs: int,
    intake: list[IntakeMessage],
) -> None:
    await _publish(saga_settings, intake)
    rng = random.Random(5)
    api_ids: list[str] = []
    async with worker.client(Role.REGISTRAR) as client:
        for _ in range(API_HOUSEHOLDS):
            response = await client.post("/api/v1/households", json=household_fields(rng, ("R01", "R02")))
            assert response.status_code == 201, response.text
            api_ids.append(response.json()["id"])
        rejected = await client.post(
            "/api/v1/households",
            json={**household_fields(rng, ("R01",)), "region": "nowhere", "household_size": "4", "pets": 2},
        )
    assert rejected.status_code == 422
    assert {error["field"] for error in rejected.json()["errors"]} == {"region", "household_size", "pets"}

    valid_ids = {m.household_id for m in intake if m.valid} | set(api_ids)
    status = await settled(saga_engine, worker, len(valid_ids), programs)
    assert status.households == len(valid_ids)

    await assert_saga_consistent(saga_engine, worker, programs)

    invalid = [m for m in intake if not m.valid]
    assert invalid, "the synthetic intake includes invalid submissions"
    dead = await _dead_letters(saga_settings, HOUSEHOLD_INTAKE)
    assert sorted(r.key.decode() for r in dead) == sorted(m.household_id for m in invalid)
    for record in dead:
        headers = {name: value.decode() for name, value in record.headers}
        assert headers["dsrs-dlq-error-message"]
        assert headers["dsrs-dlq-original-topic"] == saga_settings.topic(HOUSEHOLD_INTAKE)

    summary = await _summary(worker)
    expected = await postgres_kpis(saga_engine)
    assert {k: summary[k] for k in ("assessed", "approved", "denied", "payments_scheduled")} == expected
    # The rollups are written a moment after the counts: they coalesce.
    assert await eventually(lambda: mongo_kpis(saga_settings), lambda kpis: kpis == expected) == expected


async def test_redelivered_intake_changes_nothing(
    worker: SagaWorker,
    saga_settings: Settings,
    saga_engine: AsyncEngine,
    programs: int,
    intake: list[IntakeMessage],
) -> None:
    before = await _counts(saga_engine)
    summary_before = await _summary(worker)
    await _publish(saga_settings, intake)
    await settled(saga_engine, worker, before["households"], programs)
    assert await _counts(saga_engine) == before
    assert await _summary(worker) == summary_before


async def test_replaying_every_topic_from_the_start_changes_nothing(
    worker: SagaWorker, saga_settings: Settings, saga_engine: AsyncEngine, programs: int
) -> None:
    before = await _counts(saga_engine)
    summary_before = await _summary(worker)
    worker.stop()
    await rewind_group(saga_settings.bootstrap_servers, saga_settings.app_id, worker.topics)
    assert await worker.lag() > 0
    worker.start()
    await settled(saga_engine, worker, before["households"], programs)
    assert await _counts(saga_engine) == before
    assert await _summary(worker) == summary_before


async def _current_decision(engine: AsyncEngine, household_id: str, program: str) -> Any:
    async with engine.connect() as connection:
        return (
            await connection.execute(
                select(eligibility_assessments)
                .join(
                    households,
                    (households.c.id == eligibility_assessments.c.household_id)
                    & (households.c.version == eligibility_assessments.c.household_version),
                )
                .where(eligibility_assessments.c.household_id == uuid.UUID(household_id))
                .where(eligibility_assessments.c.program_id == program)
            )
        ).one_or_none()


async def test_crossing_the_income_threshold_changes_the_decision(
    worker: SagaWorker, saga_settings: Settings, saga_engine: AsyncEngine, programs: int
) -> None:
    async with saga_engine.connect() as connection:
        household = (
            await connection.execute(
                select(households)
                .join(eligibility_assessments, eligibility_assessments.c.household_id == households.c.id)
                .where(eligibility_assessments.c.program_id == "cash-transfer")
                .where(eligibility_assessments.c.decision == "approved")
                .where(eligibility_assessments.c.household_version == households.c.version)
                .limit(1)
            )
        ).one()
    fields = {
        name: (float(value) if isinstance(value, Decimal) else value)
        for name, value in household._mapping.items()
        if name not in ("id", "version", "status", "status_reason", "created_at", "updated_at")
    }
    richer = {**fields, "monthly_income": 5000.0}
    async with worker.client(Role.REGISTRAR) as client:
        response = await client.put(
            f"/api/v1/households/{household.id}", json=richer, headers={"If-Match": str(household.version)}
        )
        assert response.status_code == 200, response.text
        assert response.json()["version"] == household.version + 1
        stale = await client.put(
            f"/api/v1/households/{household.id}", json=richer, headers={"If-Match": str(household.version)}
        )
        assert stale.status_code == 409
    total = (await _counts(saga_engine))["households"]
    await settled(saga_engine, worker, total, programs)

    decision = await _current_decision(saga_engine, str(household.id), "cash-transfer")
    assert decision.decision == "denied"
    assert decision.household_version == household.version + 1
    assert decision.policy_version
    failed = [result["rule_id"] for result in decision.rule_results if not result["passed"]]
    assert failed, decision.rule_results

    async with worker.client(Role.PROGRAM_OFFICER) as client:
        detail = (await client.get(f"/api/v1/households/{household.id}")).json()
    cash = next(a for a in detail["assessments"] if a["program_id"] == "cash-transfer")
    assert cash["decision"] == "denied"
    assert len(detail["payments"]) >= 1, "the payment scheduled before the update stays on record"


async def test_every_api_write_is_in_the_append_only_audit_trail(worker: SagaWorker, saga_engine: AsyncEngine) -> None:
    async with worker.client(Role.AUDITOR) as client:
        response = await client.get("/api/v1/audit", params={"limit": 1000})
        denied = await client.post("/api/v1/households", json={})
    assert denied.status_code == 403, "an auditor reads everything and writes nothing"
    assert response.status_code == 200
    items = response.json()["items"]
    registered = [item for item in items if item["action"] == "household.register"]
    replaced = [item for item in items if item["action"] == "household.replace"]
    assert len(registered) == API_HOUSEHOLDS
    assert {item["actor"] for item in registered} == {"test-registrar"}
    assert all(item["before_digest"] is None and len(item["after_digest"]) == 64 for item in registered)
    assert len(replaced) == 1
    assert replaced[0]["before_digest"] != replaced[0]["after_digest"]

    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with saga_engine.begin() as connection:
                await connection.execute(text(statement))


async def test_faust_table_pages_are_not_served(worker: SagaWorker) -> None:
    async with worker.client(Role.ADMIN) as client:
        for path in ("/table/analytics-totals", "/router/"):
            assert (await client.get(path)).status_code == 404
        # The root is the live page's, not Faust's index.
        root = await client.get("/")
        assert (root.status_code, root.headers["location"]) == (302, "/ui/")


async def test_personal_data_stays_out_of_logs_and_dead_letter_reasons(
    worker: SagaWorker, saga_settings: Settings, saga_engine: AsyncEngine, programs: int
) -> None:
    rng = random.Random(99)
    name, phone, email = "Zebulon Quixley-Marchbanks", "+254799000111", "zebulon.quixley@example.org"
    messages = []
    for number in range(20):
        fields = {**household_fields(rng, ("R01",)), "head_of_household_name": f"{name} {number}", "phone": phone}
        fields["email"] = email
        if number % 4 == 0:
            fields["household_size"] = -1  # invalid: goes to the dead-letter topic with its reason
        messages.append(intake_message(str(uuid.UUID(int=rng.getrandbits(128), version=4)), fields))
    await _publish(saga_settings, messages)
    households_before = (await _counts(saga_engine))["households"]
    await settled(saga_engine, worker, households_before, programs)

    log = worker.log_path.read_text()
    spans = json.dumps(worker.spans())
    reasons = [
        value.decode(errors="replace")
        for record in await _dead_letters(saga_settings, HOUSEHOLD_INTAKE)
        for header, value in record.headers
        if header.startswith("dsrs-dlq-")
    ]
    assert any("household_size" in reason for reason in reasons), "the invalid ones were dead-lettered"
    for personal in (name, "Zebulon", phone, email):
        assert personal not in log
        assert personal not in spans
        assert all(personal not in reason for reason in reasons)


async def test_one_household_is_one_trace_through_the_saga(
    worker: SagaWorker, saga_engine: AsyncEngine, programs: int
) -> None:
    trace_id, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    poor_family = {
        **household_fields(random.Random(1), ("R01",)),
        "household_size": 5,
        "children_under_5": 2,
        "children_5_to_17": 2,
        "elderly_members": 0,
        "monthly_income": 40.0,
    }
    async with worker.client(Role.REGISTRAR) as client:
        response = await client.post(
            "/api/v1/households", json=poor_family, headers={"traceparent": f"00-{trace_id}-{caller_span}-01"}
        )
    assert response.status_code == 201
    total = (await _counts(saga_engine))["households"]
    await settled(saga_engine, worker, total, programs)

    spans = [span for span in worker.spans() if span["trace_id"] == trace_id]
    names = {span["name"] for span in spans}
    assert "POST /api/v1/households" in names
    assert {"eligibility", "payment", "analytics"} <= names, names
    assert any(name.startswith("outbox.write registry.household.registered") for name in names)
    assert any(name.startswith("outbox.publish payment.scheduled") for name in names)
    # One tree: every span's parent is in the trace, except the root, whose parent is the caller's span.
    ids = {span["span_id"] for span in spans}
    assert all(span["parent_id"] in ids | {caller_span} for span in spans)
    # And no span of that trace carries personal data.
    assert poor_family["head_of_household_name"] not in json.dumps(spans)


async def test_readiness_checks_every_dependency_without_a_token(worker: SagaWorker) -> None:
    async with httpx.AsyncClient(base_url=worker.base_url) as anonymous:
        ready = await anonymous.get("/health/ready")
        live = await anonymous.get("/health/live")
    assert live.status_code == 200
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"tables": "ok", "postgres": "ok", "kafka": "ok", "mongo": "ok"}
