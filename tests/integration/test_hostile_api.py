"""Hostile requests against a real worker: each gets a JSON 4xx, none a 5xx, and none changes a row."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.auth.roles import Role
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from tests.integration.saga import SagaWorker, engine_of, eventually, isolated_worker, settled

pytestmark = pytest.mark.integration

# The tables an API write can reach; each is compared whole, before and after.
WATCHED = ("households", "eligibility_assessments", "payments", "payment_transitions", "audit_log")
POOR_HOUSEHOLD = {"head_of_household_name": "Amina Okafor", "region": "R01", "household_size": 3, "monthly_income": 40}


def nested_arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


# Over the body cap (413), and under it but past the depth cap (400).
DEEP_BODIES = (nested_arrays(100_000), nested_objects(50_000), nested_arrays(10_000), nested_objects(5_000))


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("hostile")) as worker:
        yield worker


@pytest.fixture(scope="module")
async def engine(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    async with engine_of(worker) as engine:
        yield engine


async def _snapshot(engine: AsyncEngine) -> dict[str, tuple[int, str]]:
    """Each watched table's row count and a digest of its rows."""
    snapshot: dict[str, tuple[int, str]] = {}
    async with engine.connect() as connection:
        for table in WATCHED:
            digest = f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
            count, rows = (await connection.execute(text(digest))).one()
            snapshot[table] = (int(count), str(rows))
    return snapshot


def assert_json_4xx(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    where = f"{response.request.method} {str(response.request.url)[:120]}"
    assert 400 <= response.status_code < 500, (where, response.status_code, response.text[:200])
    if status is not None:
        assert response.status_code == status, (where, response.text[:200])
    assert response.headers["content-type"].startswith("application/json"), where
    body: dict[str, Any] = response.json()
    assert isinstance(body["error"], str), where
    return body


def assert_field_error(response: httpx.Response, field: str) -> None:
    body = assert_json_4xx(response, 422)
    assert field in {problem["field"] for problem in body["errors"]}, body


async def _registered(worker: SagaWorker, engine: AsyncEngine) -> tuple[str, str]:
    """A household, approved and with its payment scheduled: the targets of the hostile writes."""
    async with worker.client(Role.REGISTRAR) as client:
        response = await client.post("/api/v1/households", json=POOR_HOUSEHOLD)
    assert response.status_code == 201, response.text
    household_id = str(response.json()["id"])

    async def payments() -> list[dict[str, Any]]:
        async with worker.client(Role.PROGRAM_OFFICER) as client:
            found: list[dict[str, Any]] = (await client.get(f"/api/v1/payments?household={household_id}")).json()[
                "items"
            ]
        return found

    paid = await eventually(payments, bool)
    await settled(engine, worker, 1, len(active_programs(load_programs(worker.settings.programs_dir))))
    return household_id, str(paid[0]["id"])


async def _hostile_queries(worker: SagaWorker) -> None:
    async with worker.client(Role.AUDITOR) as auditor:
        assert_field_error(await auditor.get("/api/v1/households?region=R01%00"), "region")
        assert_field_error(await auditor.get("/api/v1/payments?program=a%00b"), "program")
        assert_field_error(await auditor.get("/api/v1/audit?after=9223372036854775808"), "after")
        assert_field_error(await auditor.get("/api/v1/audit?limit=-1"), "limit")
        assert_json_4xx(await auditor.get("/api/v1/no-such-route"), 404)
        assert_json_4xx(await auditor.delete("/api/v1/households"), 405)


async def _hostile_households(worker: SagaWorker, household_id: str) -> None:
    hostile = {
        "head_of_household_name": {**POOR_HOUSEHOLD, "head_of_household_name": "Amina\x00Okafor"},
        "address": {**POOR_HOUSEHOLD, "address": "12 Market Road\x00"},
        "monthly_income": {**POOR_HOUSEHOLD, "monthly_income": 1_000_000_000},
    }
    surrogate = json.dumps({**POOR_HOUSEHOLD, "head_of_household_name": "\ud800"})
    async with worker.client(Role.REGISTRAR) as client:
        for method, path in (("POST", "/api/v1/households"), ("PUT", f"/api/v1/households/{household_id}")):
            for field, body in hostile.items():
                assert_field_error(await client.request(method, path, json=body), field)
            assert_field_error(await client.request(method, path, content=surrogate), "head_of_household_name")
            for deep in DEEP_BODIES:
                assert_json_4xx(await client.request(method, path, content=deep))


async def _hostile_payment_actions(worker: SagaWorker, payment_id: str) -> None:
    async with worker.client(Role.PROGRAM_OFFICER) as client:
        for action in ("cancel", "retry"):
            path = f"/api/v1/payments/{payment_id}/{action}"
            for deep in DEEP_BODIES:
                assert_json_4xx(await client.post(path, content=deep))
            assert_field_error(await client.post(path, content=json.dumps({"reason": "\ud800"})), "reason")
            assert_field_error(await client.post(path, json={"reason": "stolen\x00"}), "reason")


async def _server_errors(worker: SagaWorker) -> list[str]:
    async with worker.client(Role.ADMIN) as client:
        scraped = (await client.get("/metrics")).text
    return [line for line in scraped.splitlines() if line.startswith("dsrs_http_request") and 'status="5' in line]


async def test_hostile_requests_get_a_json_4xx_and_change_nothing(worker: SagaWorker, engine: AsyncEngine) -> None:
    household_id, payment_id = await _registered(worker, engine)
    before = await _snapshot(engine)

    await _hostile_queries(worker)
    await _hostile_households(worker, household_id)
    await _hostile_payment_actions(worker, payment_id)

    assert await _snapshot(engine) == before
    assert await _server_errors(worker) == []
    async with worker.client(Role.PROGRAM_OFFICER) as client:
        payment = (await client.get(f"/api/v1/payments/{payment_id}")).json()
    assert payment["status"] == "scheduled"
