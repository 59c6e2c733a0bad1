"""The payment lifecycle on the real stack, with the simulated provider failing 30% of attempts;
reconciliation with injected mismatches; a poison message, its dead letter, and its replay."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.auth.roles import Role
from dsrs.db.schema import (
    PAYMENT_STATUSES,
    households,
    payments,
    reconciliation_mismatches,
    reconciliation_runs,
)
from dsrs.events import topics
from dsrs.events.envelope import new_envelope
from dsrs.monitoring.metrics import EXPOSED
from dsrs.payment.reconciliation import render_csv
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings
from dsrs_dev.partner import publish_intake
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import household_fields, intake_message, synthetic_intake
from tests.integration.conftest import run_dsrs
from tests.integration.saga import SagaWorker, engine_of, eventually, isolated_worker, payment_statuses, settled

pytestmark = pytest.mark.integration

MAX_ATTEMPTS = 4
LIFECYCLE = {
    "DSRS_PROVIDER_FAILURE_RATE": "0.3",
    "DSRS_PROVIDER_LATENCY_SECONDS": "0.2",
    "DSRS_PAYMENT_RETRY_BASE_SECONDS": "0.2",
    # Send every payment now, not on its due date next month.
    "DSRS_PAYMENT_SEND_AHEAD_DAYS": "62",
    "DSRS_PAYMENT_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "DSRS_REGIONS": "R01,R02,R03,R04",
}


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("payments"), LIFECYCLE) as worker:
        yield worker


@pytest.fixture(scope="module")
async def engine(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    async with engine_of(worker) as engine:
        yield engine


async def test_every_payment_completes_or_fails_after_its_last_retry(worker: SagaWorker, engine: AsyncEngine) -> None:
    settings = worker.settings
    messages = list(synthetic_intake(300, ("R01", "R02", "R03", "R04"), seed=21, invalid_share=0.0))
    await publish_intake(settings, messages, topic=settings.topic(topics.HOUSEHOLD_INTAKE))
    programs = len(active_programs(load_programs(settings.programs_dir)))
    await settled(engine, worker, len({m.household_id for m in messages}), programs)

    def finished(statuses: dict[str, int]) -> bool:
        return sum(statuses.values()) > 0 and not statuses.keys() & {"scheduled", "sent"}

    statuses = await eventually(lambda: payment_statuses(engine), finished)
    assert statuses.get("completed", 0) > 0
    async with engine.connect() as connection:
        unfinished_failures = await connection.scalar(
            text("SELECT count(*) FROM payments WHERE status = 'failed' AND attempts <> max_attempts")
        )
        retried = await connection.scalar(text("SELECT count(*) FROM payments WHERE attempts > 1"))
        # Every history is a walk through the state machine: scheduled, then sent, then an outcome.
        walks = await connection.execute(
            text(
                "SELECT payment_id, string_agg(to_status, '>' ORDER BY id) AS walk "
                "FROM payment_transitions GROUP BY payment_id"
            )
        )
        for walk in walks:
            steps = walk.walk.split(">")
            assert steps[0] == "scheduled"
            assert steps[-1] in ("completed", "failed"), walk.walk
            assert "sent>completed" in walk.walk or "sent>failed" in walk.walk
    assert unfinished_failures == 0
    assert retried, "with 30% failures some payments needed more than one attempt"

    await eventually(lambda: worker.lag(), lambda lag: lag == 0)
    async with worker.client(Role.AUDITOR) as client:
        summary = (await client.get("/api/v1/analytics/summary")).json()
    assert summary["payments_completed"] == statuses.get("completed", 0)
    assert summary["payments_failed"] == statuses.get("failed", 0)


def _samples(exposition: str) -> dict[str, float]:
    """Metric name with labels -> value, from Prometheus' text format."""
    samples = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def _total(samples: dict[str, float], name: str, **labels: str) -> float:
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    return sum(
        value
        for series, value in samples.items()
        if series.split("{")[0] == name and all(label in series for label in wanted)
    )


async def test_metrics_show_what_was_processed(worker: SagaWorker, engine: AsyncEngine) -> None:
    async with worker.client(Role.ADMIN) as admin:

        async def scrape() -> tuple[dict[str, float], dict[str, int]]:
            return _samples((await admin.get("/metrics")).text), await payment_statuses(engine)

        # The state gauges refresh every few seconds, and earlier tests may have just added payments:
        # wait until the gauges show every status as the database has it.
        samples, _ = await eventually(
            scrape,
            lambda seen: (
                all(_total(seen[0], "dsrs_payments", status=s) == seen[1].get(s, 0) for s in PAYMENT_STATUSES)
                and _total(seen[0], "dsrs_consumer_lag_messages") == 0
            ),
        )
    names = {series.split("{")[0] for series in samples}
    assert names >= EXPOSED, EXPOSED - names
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT decision, count(*) FROM eligibility_assessments GROUP BY decision")
        )
        decisions = {str(decision): int(count) for decision, count in rows}
    assert _total(samples, "dsrs_eligibility_decisions_total", decision="approved") == decisions["approved"]
    assert _total(samples, "dsrs_eligibility_decisions_total", decision="denied") == decisions["denied"]
    assert _total(samples, "dsrs_agent_events_processed_total", agent="registry-intake") == 300
    assert _total(samples, "dsrs_agent_events_failed_total") == 0
    assert _total(samples, "dsrs_outbox_pending_events") == 0
    assert _total(samples, "dsrs_consumer_lag_messages") == 0
    assert _total(samples, "dsrs_outbox_published_events_total") > 0
    assert _total(samples, "dsrs_http_request_duration_seconds_count", route="/api/v1/analytics/summary") >= 1


async def test_officer_actions_follow_the_state_machine(worker: SagaWorker, engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        completed = await connection.scalar(select(payments.c.id).where(payments.c.status == "completed").limit(1))
    async with worker.client(Role.PROGRAM_OFFICER) as officer:
        refused = await officer.post(f"/api/v1/payments/{completed}/cancel", json={"reason": "duplicate"})
        assert refused.status_code == 409
        assert refused.json()["current_status"] == "completed"
        assert (await officer.post(f"/api/v1/payments/{completed}/retry")).status_code == 409
        detail = (await officer.get(f"/api/v1/payments/{completed}")).json()
        assert [t["to_status"] for t in detail["transitions"]][-2:] == ["sent", "completed"]
        page = (await officer.get("/api/v1/payments", params={"status": "completed", "limit": 5})).json()
        assert len(page["items"]) == 5
        assert all(item["status"] == "completed" for item in page["items"])
    async with worker.client(Role.REGISTRAR) as registrar:
        assert (await registrar.post(f"/api/v1/payments/{completed}/cancel")).status_code == 403

    with pytest.raises(DBAPIError, match="cannot go from completed to scheduled"):
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE payments SET status = 'scheduled' WHERE id = :id"), {"id": completed})


async def _overdue_payment(engine: AsyncEngine) -> uuid.UUID:
    """A scheduled payment whose deadline has passed and that the dispatcher will not pick up."""
    async with engine.begin() as connection:
        household = (await connection.execute(select(households.c.id).limit(1))).scalar_one()
        assessment = await connection.scalar(
            text("SELECT id FROM eligibility_assessments WHERE household_id = :h LIMIT 1"), {"h": household}
        )
        payment_id = uuid.uuid4()
        await connection.execute(
            insert(payments).values(
                id=payment_id,
                household_id=household,
                assessment_id=assessment,
                program_id="cash-transfer",
                cycle="2020-01",
                amount=42,
                currency="USD",
                due_date=date.today() - timedelta(days=30),
                settle_by=date.today() - timedelta(days=25),
                idempotency_key=f"test-overdue:{payment_id}",
                next_attempt_at=text("now() + interval '10 years'"),
            )
        )
    return payment_id


async def _statement(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(payments.c.provider_reference, payments.c.amount, payments.c.currency)
                .where(payments.c.status == "completed")
                .order_by(payments.c.id)
                .limit(20)
            )
        ).all()
    lines = [
        {
            "reference": r.provider_reference,
            "amount": str(r.amount),
            "currency": r.currency,
            "status": "completed",
            "settled_at": "2026-11-29T10:00:00+00:00",
        }
        for r in rows
    ]
    lines[0] = {**lines[0], "amount": str(rows[0].amount + 1)}  # amount mismatch
    lines.append({**lines[1]})  # duplicate settlement
    lines.append({**lines[2], "reference": "SIM-NOT-OURS-0001"})  # unknown reference
    return lines


async def test_a_statement_with_injected_mismatches_reports_exactly_those(
    worker: SagaWorker, engine: AsyncEngine, tmp_path: Path
) -> None:
    overdue = await _overdue_payment(engine)
    lines = await _statement(engine)
    expected = {
        ("amount_mismatch", lines[0]["reference"]),
        ("duplicate_settlement", lines[1]["reference"]),
        ("unknown_reference", "SIM-NOT-OURS-0001"),
        ("unsettled_past_deadline", None),
    }
    statement = tmp_path / "statement.csv"
    statement.write_text(render_csv(lines))
    result = run_dsrs("payments", "reconcile", str(statement), env=worker.env)
    assert result.returncode == 0, result.stderr
    run_id = uuid.UUID(result.stdout.split()[1].rstrip(":"))
    assert "4 mismatches" in result.stdout

    async with engine.connect() as connection:
        found = (
            await connection.execute(
                select(reconciliation_mismatches).where(reconciliation_mismatches.c.run_id == run_id)
            )
        ).all()
    assert {(m.kind, m.reference) for m in found} == expected
    assert next(m for m in found if m.kind == "unsettled_past_deadline").payment_id == overdue

    # The same statement, as an event from the provider, is reconciled the same way.
    envelope = new_envelope(topics.PROVIDER_STATEMENT, "statement-1", {"lines": lines}, "simulated-provider")
    await _publish_raw(worker.settings, topics.PROVIDER_STATEMENT, envelope.to_wire())

    async def event_runs() -> list[Any]:
        async with engine.connect() as connection:
            query = select(reconciliation_runs).where(reconciliation_runs.c.source.like(f"event {envelope.event_id}%"))
            return list(await connection.execute(query))

    runs = await eventually(event_runs, lambda found_runs: len(found_runs) == 1)
    async with worker.client(Role.AUDITOR) as auditor:
        listed = (await auditor.get("/api/v1/payments/reconciliation", params={"run": str(runs[0].id)})).json()
    assert {(m["kind"], m["reference"]) for m in listed["items"]} == expected


async def _publish_raw(settings: Settings, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(topic), value, key=b"statement")
    finally:
        await producer.stop()


async def test_a_poison_message_is_dead_lettered_and_replayed_once_after_the_fix(
    worker: SagaWorker, engine: AsyncEngine
) -> None:
    settings = worker.settings
    household_id = str(uuid.uuid4())
    poison = intake_message(household_id, household_fields(random.Random(3), ("R77",)))
    await publish_intake(settings, [poison], topic=settings.topic(topics.HOUSEHOLD_INTAKE))

    listing = await eventually(
        lambda: _run_cli(worker, "dlq", "list", "--topic", topics.HOUSEHOLD_INTAKE),
        lambda output: "region: unknown region code" in output,
    )
    assert "dsrs.registry.household.InvalidHousehold" in listing
    letter_id = next(line.split()[0] for line in listing.splitlines() if line.startswith(settings.topic("registry")))

    # The fix: this deployment now serves region R77.
    worker.stop()
    worker.extra_env = {**worker.extra_env, "DSRS_REGIONS": "R01,R02,R03,R04,R77"}
    worker.start()

    first = run_dsrs("dlq", "replay", "--id", letter_id, env=worker.env)
    assert first.returncode == 0, first.stderr
    assert "1 replayed" in first.stdout
    second = run_dsrs("dlq", "replay", "--id", letter_id, env=worker.env)
    assert "0 replayed, 1 already replayed before" in second.stdout

    async def versions() -> list[int]:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(households.c.version).where(households.c.id == uuid.UUID(household_id))
            )
            return [int(v) for (v,) in rows]

    assert await eventually(versions, lambda found: found == [1]) == [1]
    await eventually(lambda: worker.lag(), lambda lag: lag == 0)
    assert await versions() == [1], "processed exactly once"


async def _run_cli(worker: SagaWorker, *args: str) -> str:
    result = run_dsrs(*args, env=worker.env)
    assert result.returncode == 0, result.stderr
    return result.stdout
