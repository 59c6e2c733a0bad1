"""Payment cycles on the real stack: three cycles of monthly programs with updates and departures between
them. The test decides on its own, with the rules engine and the households it holds, who must be paid in
each cycle and how much; exactly those payments exist, and each cycle's total is its entitlement list."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.auth.roles import Role
from dsrs.registry.household import parse_household
from dsrs.rules import Program, active_programs, assess, load_programs
from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import household_fields
from tests.integration.conftest import run_dsrs
from tests.integration.saga import SagaWorker, engine_of, isolated_worker, settled

pytestmark = pytest.mark.integration

REGIONS = ("R01", "R02", "R03", "R04")
ENV = {
    "DSRS_REGIONS": ",".join(REGIONS),
    # Nothing is sent before its due date (next month and later): every payment stays open to changes, so
    # each round also checks that earlier cycles follow eligibility.
    "DSRS_PAYMENT_SEND_AHEAD_DAYS": "0",
}
REPRO = {
    "head_of_household_name": "Repro Case",
    "region": "R01",
    "household_size": 4,
    "children_under_5": 2,
    "monthly_income": 100,
    "dwelling_rooms": 1,
}


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("cycles"), ENV) as worker:
        yield worker


@pytest.fixture(scope="module")
async def engine(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    async with engine_of(worker) as engine:
        yield engine


class Registry:
    """What the test knows of its households, and what it expects from it."""

    def __init__(self, worker: SagaWorker, programs: list[Program]) -> None:
        self.worker = worker
        self.programs = programs
        self.fields: dict[str, dict[str, Any]] = {}
        self.active: dict[str, bool] = {}

    async def register(self, fields: dict[str, Any]) -> str:
        async with self.worker.client(Role.REGISTRAR) as client:
            response = await client.post("/api/v1/households", json=fields)
        assert response.status_code == 201, response.text
        household_id = str(response.json()["id"])
        self.fields[household_id], self.active[household_id] = fields, True
        return household_id

    async def replace(self, household_id: str, fields: dict[str, Any]) -> None:
        async with self.worker.client(Role.REGISTRAR) as client:
            response = await client.put(f"/api/v1/households/{household_id}", json=fields)
        assert response.status_code == 200, response.text
        self.fields[household_id] = fields

    async def set_active(self, household_id: str, active: bool, reason: str = "moved") -> None:
        action = "reactivate" if active else "deactivate"
        async with self.worker.client(Role.REGISTRAR) as client:
            response = await client.post(f"/api/v1/households/{household_id}/{action}", json={"reason": reason})
        assert response.status_code == 200, response.text
        self.active[household_id] = active

    def entitled(self, program: Program) -> dict[str, Decimal]:
        """Household -> amount: every active household the program approves now."""
        expected = {}
        for household_id, fields in self.fields.items():
            if not self.active[household_id]:
                continue
            decision = assess(program, parse_household(fields, REGIONS).eligibility_facts())
            if decision.decision == "approved" and decision.benefit_amount:
                expected[household_id] = Decimal(decision.benefit_amount).quantize(Decimal("0.01"))
        return expected

    async def settle(self, engine: AsyncEngine) -> None:
        await settled(engine, self.worker, len(self.fields), len(self.programs))


async def _paid(engine: AsyncEngine, program_id: str, cycle: str) -> dict[str, tuple[Decimal, str]]:
    """Household -> (amount, status) of the cycle's payments that are not cancelled."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT household_id, amount, status FROM payments WHERE program_id = :p AND cycle = :c "
                    "AND status <> 'cancelled'"
                ),
                {"p": program_id, "c": cycle},
            )
        ).all()
    paid = {str(row.household_id): (Decimal(row.amount), str(row.status)) for row in rows}
    assert len(paid) == len(rows), "a household paid twice in one cycle"
    return paid


async def _open(worker: SagaWorker, program_id: str, cycle: str) -> str:
    result = run_dsrs("payments", "cycle", "open", program_id, cycle, env=worker.env)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def _check_cycle(
    worker: SagaWorker, engine: AsyncEngine, program: Program, cycle: str, expected: dict[str, Decimal]
) -> None:
    paid = await _paid(engine, program.id, cycle)
    assert {household: amount for household, (amount, _) in paid.items()} == expected
    assert {status for _, status in paid.values()} <= {"scheduled"}
    async with worker.client(Role.AUDITOR) as auditor:
        summary = (await auditor.get(f"/api/v1/programs/{program.id}/cycles/{cycle}")).json()
        listed = (await auditor.get(f"/api/v1/programs/{program.id}/cycles")).json()
    assert summary["state"] == "open"
    assert summary["count"] == len(expected)
    assert Decimal(summary["total"]) == sum(expected.values(), Decimal("0.00"))
    assert cycle in {item["cycle"] for item in listed["items"]}


def _cycles(program: Program, today: date) -> list[str]:
    upcoming = program.schedule.cycles_from(today + timedelta(days=1))
    return [next(upcoming)[0] for _ in range(3)]


async def test_three_cycles_pay_exactly_who_is_eligible_at_each_cut_off(
    worker: SagaWorker, engine: AsyncEngine
) -> None:
    programs = active_programs(load_programs(worker.settings.programs_dir))
    registry = Registry(worker, programs)
    cycles = {program.id: _cycles(program, date.today()) for program in programs}
    rng = random.Random(24)
    households = [await registry.register(household_fields(rng, REGIONS)) for _ in range(40)]
    repro = await registry.register(REPRO)
    await registry.settle(engine)

    # The reproduction: approved by both programs, then denied by both; its payments are cancelled.
    async with engine.connect() as connection:
        decisions: dict[str, str] = dict(
            (
                await connection.execute(
                    text(
                        "SELECT DISTINCT ON (program_id) program_id, decision FROM eligibility_assessments "
                        "WHERE household_id = :h ORDER BY program_id, assessed_at DESC"
                    ),
                    {"h": repro},
                )
            ).all()
        )
    assert decisions == {program.id: "approved" for program in programs}
    await registry.replace(repro, {**REPRO, "monthly_income": 4000})
    # Benefit changes before the first cycle opens: its payments follow, amended in place.
    resized = [h for h in households if registry.fields[h]["household_size"] < 6][:4]
    for household_id in resized:
        fields = registry.fields[household_id]
        await registry.replace(household_id, {**fields, "household_size": fields["household_size"] + 1})
    await registry.settle(engine)
    async with engine.connect() as connection:
        repro_payments = (
            await connection.execute(
                text("SELECT status, last_error FROM payments WHERE household_id = :h"), {"h": repro}
            )
        ).all()
        amended = await connection.scalar(
            text("SELECT count(*) FROM payment_transitions WHERE reason LIKE 'amended:%'")
        )
    assert len(repro_payments) == len(programs)
    assert {(row.status, row.last_error) for row in repro_payments} == {("cancelled", "no_longer_eligible")}
    assert amended, "a benefit that changed before the payment was sent amended it"

    # Per program and opened cycle: who was entitled at its cut-off and has stayed entitled since.
    kept: dict[tuple[str, str], set[str]] = {}
    for round_number in range(3):
        if round_number == 1:
            poorer = [h for h in households if registry.entitled(programs[0]).get(h) is None][:3]
            for household_id in poorer:
                await registry.replace(household_id, {**registry.fields[household_id], "monthly_income": 10})
            for household_id in households[:3]:
                await registry.set_active(household_id, False, "moved")
            for household_id in households[3:5]:
                await registry.replace(household_id, {**registry.fields[household_id], "monthly_income": 5000})
        if round_number == 2:
            await registry.set_active(households[0], True)
            await registry.set_active(households[10], False, "deceased")
            await registry.replace(households[11], {**registry.fields[households[11]], "monthly_income": 9000})
        await registry.settle(engine)
        for program in programs:
            now = registry.entitled(program)
            # Cycles opened earlier and not yet sent follow eligibility: departures and denials are cancelled,
            # amounts follow the benefit, and a program that lets late approvals join takes them in.
            for opened in cycles[program.id][:round_number]:
                still = kept[(program.id, opened)] & set(now)
                kept[(program.id, opened)] = still
                expected = now if program.schedule.join_open_cycle else {h: now[h] for h in still}
                await _check_cycle(worker, engine, program, opened, expected)
            cycle = cycles[program.id][round_number]
            assert "opened" in await _open(worker, program.id, cycle)
            await _check_cycle(worker, engine, program, cycle, now)
            kept[(program.id, cycle)] = set(now)
            left = {h for h, active in registry.active.items() if not active}
            assert not left & set(await _paid(engine, program.id, cycle))

    # Opening a cycle again creates nothing.
    async with engine.connect() as connection:
        before = await connection.scalar(text("SELECT count(*) FROM payments"))
    for program in programs:
        again = await _open(worker, program.id, cycles[program.id][2])
        assert "already open: nothing created" in again
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM payments")) == before


async def test_bad_input_changes_nothing(worker: SagaWorker, engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        before = await connection.scalar(text("SELECT count(*) FROM payments"))
        audited = await connection.scalar(text("SELECT count(*) FROM audit_log"))
    unknown = run_dsrs("payments", "cycle", "open", "no-such-program", env=worker.env)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().startswith("dsrs: no active program 'no-such-program'")
    past = run_dsrs("payments", "cycle", "open", "cash-transfer", "2020-01", env=worker.env)
    assert past.returncode == 1
    assert "in the past" in past.stderr
    assert len(past.stderr.strip().splitlines()) == 1
    malformed = run_dsrs("payments", "cycle", "open", "cash-transfer", "2026-13", env=worker.env)
    assert malformed.returncode == 1
    assert "expected YYYY-MM" in malformed.stderr
    async with worker.client(Role.REGISTRAR) as registrar:
        missing = await registrar.post(f"/api/v1/households/{uuid.uuid4()}/deactivate", json={"reason": "moved"})
        assert missing.status_code == 404
        async with engine.connect() as connection:
            household = str(await connection.scalar(text("SELECT id FROM households WHERE status = 'active' LIMIT 1")))
        wrong = await registrar.post(f"/api/v1/households/{household}/deactivate", json={"reason": "bored"})
        assert wrong.status_code == 422
        assert wrong.json()["errors"][0]["field"] == "reason"
        again = await registrar.post(f"/api/v1/households/{household}/reactivate")
        assert again.status_code == 409
        assert again.json()["current_status"] == "active"
    async with worker.client(Role.AUDITOR) as auditor:
        assert (await auditor.get("/api/v1/programs/no-such-program/cycles")).status_code == 404
        assert (await auditor.get("/api/v1/programs/cash-transfer/cycles/1999-01")).status_code == 404
    async with worker.client(Role.REGISTRAR) as registrar:
        assert (await registrar.get("/api/v1/programs/cash-transfer/cycles")).status_code == 403
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM payments")) == before
        assert await connection.scalar(text("SELECT count(*) FROM audit_log")) == audited
        assert await connection.scalar(text("SELECT count(*) FROM payment_cycles WHERE cycle < '2021-01'")) == 0
