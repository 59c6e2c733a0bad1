"""The DCI Social Registry API on a worker of its own: subscriptions notified once per household change
(retried after a refusal, and across a SIGKILLed worker), synchronous and asynchronous search by identifier
and by attribute with pages, personal fields by role, transaction status, and refusals that store nothing."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.auth.roles import Role
from dsrs.settings import Settings
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import household_fields
from tests.dci_messages import now, predicate, request, search_message
from tests.integration.dci_subscriber import FLAKY, Subscriber, running_subscriber
from tests.integration.saga import SagaWorker, engine_of, eventually, isolated_worker

pytestmark = pytest.mark.integration

SIGNING_KEY = "dsrs-signs-its-dci-callbacks-with-this-key"
REQUEST_KEY = "partners-sign-their-dci-requests-with-this"


@pytest.fixture(scope="module")
def subscriber() -> Iterator[Subscriber]:
    with running_subscriber(SIGNING_KEY) as subscriber:
        yield subscriber


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    env = {
        "DSRS_REGIONS": "R01,R02",
        "DSRS_DCI_SIGNING_KEY": SIGNING_KEY,
        "DSRS_DCI_REQUEST_KEY": REQUEST_KEY,
        "DSRS_DCI_RETRY_BASE_SECONDS": "0.2",
    }
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("dci"), env) as worker:
        yield worker


@pytest.fixture(scope="module")
async def engine(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    async with engine_of(worker) as engine:
        yield engine


async def post(worker: SagaWorker, role: Role, path: str, body: dict[str, Any]) -> httpx.Response:
    async with worker.client(role) as client:
        return await client.post(f"/dci/registry/{path}", json=body)


async def register(worker: SagaWorker, rng: random.Random, **fields: Any) -> str:
    async with worker.client(Role.REGISTRAR) as client:
        response = await client.post("/api/v1/households", json={**household_fields(rng, ("R01",)), **fields})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def replace(worker: SagaWorker, rng: random.Random, household_id: str, **fields: Any) -> None:
    async with worker.client(Role.REGISTRAR) as client:
        body = {**household_fields(rng, ("R01",)), **fields}
        assert (await client.put(f"/api/v1/households/{household_id}", json=body)).status_code == 200


async def deactivate(worker: SagaWorker, household_id: str) -> None:
    async with worker.client(Role.REGISTRAR) as client:
        path = f"/api/v1/households/{household_id}/deactivate"
        assert (await client.post(path, json={"reason": "moved"})).status_code == 200


async def subscribe(worker: SagaWorker, role: Role, url: str, kinds: list[str], query: Any, kind: str) -> str:
    items = [
        {
            "reference_id": f"sub-{event}",
            "timestamp": now(),
            "subscribe_criteria": {
                "reg_event_type": event,
                "filter_type": kind,
                "filter": query,
                "notify_record_type": "spdci:Group",
            },
        }
        for event in kinds
    ]
    message = {"transaction_id": f"subscribe-{role.value}", "subscribe_request": items}
    response = await post(worker, role, "subscribe", request("subscribe", message, len(items), REQUEST_KEY, url))
    assert response.status_code == 200, response.text
    assert response.json()["message"]["ack_status"] == "ACK"
    return str(response.json()["message"]["correlation_id"])


async def quiet(engine: AsyncEngine, worker: SagaWorker) -> None:
    """Every household event consumed and every callback it owed delivered (or given up)."""

    async def probe() -> tuple[int, int, int]:
        async with engine.connect() as connection:
            outbox = await connection.scalar(text("SELECT count(*) FROM event_outbox"))
            pending = await connection.scalar(text("SELECT count(*) FROM dci_deliveries WHERE state = 'pending'"))
        return int(outbox or 0), int(pending or 0), await worker.lag()

    await eventually(probe, lambda seen: seen == (0, 0, 0))


def changes(subscriber: Subscriber, path: str) -> dict[str, tuple[str, str, int]]:
    """Each notified change by its message id: (household, event kind, version)."""
    found = {}
    for callback in subscriber.accepted("notify", path):
        data = callback.body["message"]["notify_event"][0]["data"]
        record = data["reg_records"]
        version = next(a["value"] for a in record["additional_attributes"] if a["name"] == "version")
        found[callback.message_id] = (
            record["group_identifier"][0]["identifier_value"],
            data["reg_event_type"],
            version,
        )
    return found


async def test_each_change_is_notified_once_with_retries_and_across_a_killed_worker(
    worker: SagaWorker, engine: AsyncEngine, subscriber: Subscriber
) -> None:
    rng = random.Random(28)
    # A program's system, on a path that refuses each first attempt; an operator, without personal data.
    await subscribe(
        worker, Role.PROGRAM_OFFICER, subscriber.url(FLAKY), ["REGISTER", "UPDATE", "DEACTIVATE"],
        predicate(("region", "eq", "R01"), ("household_size", "ge", 1)), "predicate",
    )  # fmt: skip
    expression = {"type": "NoSql", "value": {"expression": {"collection": "Group", "query": {"location": "R01"}}}}
    await subscribe(worker, Role.ADMIN, subscriber.url("/ops"), ["UPDATE"], expression, "expression")

    first, second = await register(worker, rng), await register(worker, rng)
    elsewhere = await register(worker, rng, region="R02")
    await replace(worker, rng, first, region="R01")
    await deactivate(worker, second)
    expected = {(first, "REGISTER", 1), (second, "REGISTER", 1), (first, "UPDATE", 2), (second, "DEACTIVATE", 1)}
    await eventually(lambda: _changes(subscriber, FLAKY), lambda seen: set(seen.values()) == expected)

    # Killed with its last offsets uncommitted: the events come again, and nothing is notified twice.
    worker.kill()
    worker.start()
    await replace(worker, rng, first, region="R01")
    expected.add((first, "UPDATE", 3))
    await eventually(lambda: _changes(subscriber, FLAKY), lambda seen: set(seen.values()) == expected)
    await quiet(engine, worker)

    notified = changes(subscriber, FLAKY)
    assert sorted(notified.values()) == sorted(expected), "one message id per change"
    assert all(c.signed for c in subscriber.callbacks), "every callback carries DSRS's signature"
    assert all(c.idempotency_key == c.message_id for c in subscriber.callbacks)
    retried = [c for c in subscriber.callbacks if c.path == FLAKY and c.action == "notify" and not c.accepted]
    assert {c.message_id for c in retried} == set(notified), "each was refused once, then sent again"
    assert elsewhere not in {household for household, _, _ in notified.values()}, "the filter keeps R02 out"
    head = next(c for c in subscriber.accepted("notify", FLAKY))
    assert "group_head_info" in head.body["message"]["notify_event"][0]["data"]["reg_records"]

    operator = changes(subscriber, "/ops")
    assert sorted(operator.values()) == [(first, "UPDATE", 2), (first, "UPDATE", 3)]
    for callback in subscriber.accepted("notify", "/ops"):
        record = callback.body["message"]["notify_event"][0]["data"]["reg_records"]
        assert "group_head_info" not in record, "no personal data for an admin"
        assert "place" not in record
    subscribed = subscriber.accepted("on-subscribe")
    assert len(subscribed) == 2
    codes = [
        s["code"] for c in subscribed if c.path == FLAKY for item in c.body["message"]["subscribe_response"]
        for s in item["subscriptions"]
    ]  # fmt: skip
    assert len(codes) == 3

    # Unsubscribed: the next change is not notified.
    message = {"transaction_id": "unsubscribe-1", "timestamp": now(), "subscription_codes": codes}
    response = await post(worker, Role.PROGRAM_OFFICER, "unsubscribe", request("unsubscribe", message, 3, REQUEST_KEY))
    assert response.json()["message"]["ack_status"] == "ACK"
    other = await post(worker, Role.ADMIN, "unsubscribe", request("unsubscribe", message, 3, REQUEST_KEY))
    assert other.json()["message"]["error"]["message"].startswith("rjct.subscription_code.invalid")
    await replace(worker, rng, first, region="R01")
    await quiet(engine, worker)
    assert sorted(changes(subscriber, FLAKY).values()) == sorted(expected)
    assert len(changes(subscriber, "/ops")) == 3, "the operator's subscription still stands"
    async with engine.connect() as connection:
        actions = set((await connection.execute(text("SELECT action FROM audit_log"))).scalars())
    assert {"dci.subscribe", "dci.unsubscribe"} <= actions


async def _changes(subscriber: Subscriber, path: str) -> dict[str, tuple[str, str, int]]:
    return changes(subscriber, path)


async def test_search_by_id_and_attribute_in_pages_with_personal_fields_by_role(
    worker: SagaWorker, engine: AsyncEngine, subscriber: Subscriber
) -> None:
    rng = random.Random(7)
    ids = {await register(worker, rng, dwelling_rooms=37, region="R02") for _ in range(3)}
    by_attribute = {
        "query_type": "predicate",
        "query": predicate(("dwelling_rooms", "eq", 37), ("location", "in", ["R02"])),
        "sort": [{"attribute_name": "household_size", "sort_order": "desc"}],
        "pagination": {"page_size": 2, "page_number": 1},
    }
    second_page = {**by_attribute, "pagination": {"page_size": 2, "page_number": 2}}
    one = sorted(ids)[0]
    by_id = {"query_type": "idtype-value", "query": {"type": "household_id", "value": one}}
    message = search_message(by_attribute, second_page, by_id)
    response = await post(worker, Role.AUDITOR, "sync/search", request("search", message, 3, REQUEST_KEY))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["header"]["action"] == "on-search"
    assert answer["signature"].startswith("Signature:")
    pages = answer["message"]["search_response"]
    found = [[r["group_identifier"][0]["identifier_value"] for r in p["data"]["reg_records"]] for p in pages]
    assert [len(f) for f in found] == [2, 1, 1]
    assert set(found[0]) | set(found[1]) == ids
    assert found[2] == [one]
    assert pages[0]["pagination"] == {"page_size": 2, "page_number": 1, "total_count": 3}
    assert all("group_head_info" in r for p in pages for r in p["data"]["reg_records"])

    # An operator reads no personal data, and may not search by it.
    admin = await post(worker, Role.ADMIN, "sync/search", request("search", search_message(by_id), 1, REQUEST_KEY))
    record = admin.json()["message"]["search_response"][0]["data"]["reg_records"][0]
    assert "group_head_info" not in record
    assert "place" not in record
    by_national_id = {"query_type": "idtype-value", "query": {"type": "national_id", "value": "AB12345"}}
    refused = await post(
        worker, Role.ADMIN, "sync/search", request("search", search_message(by_national_id), 1, REQUEST_KEY)
    )
    assert refused.status_code == 400
    assert refused.json()["message"]["error"]["message"].startswith("search_request.0: rjct.search_criteria.invalid")

    # The same transaction's status, answered again from the registry.
    status_message = {
        "transaction_id": "status-1",
        "txnstatus_request": {
            "reference_id": "s1",
            "txn_type": "search",
            "attribute_type": "transaction_id",
            "attribute_value": message["transaction_id"],
        },
    }
    status = await post(worker, Role.AUDITOR, "sync/txn/status", request("txn-status", status_message, 1, REQUEST_KEY))
    assert status.status_code == 200, status.text
    txn = status.json()["message"]["txnstatus_response"]["txn_status"]
    assert txn["correlation_id"] == answer["message"]["correlation_id"]
    assert [len(p["data"]["reg_records"]) for p in txn["search_response"]] == [2, 1, 1]
    other = await post(worker, Role.ADMIN, "sync/txn/status", request("txn-status", status_message, 1, REQUEST_KEY))
    assert other.status_code == 404, "another caller's transaction is not found"

    # Asynchronous: an ACK, then the answer at the requester's callback.
    asked = request("search", search_message(by_id), 1, REQUEST_KEY, subscriber.url("/on-search"))
    acked = await post(worker, Role.AUDITOR, "search", asked)
    correlation = acked.json()["message"]["correlation_id"]
    callbacks = await eventually(lambda: _accepted(subscriber, "on-search"), lambda found: len(found) == 1)
    delivered = callbacks[0].body["message"]
    assert delivered["correlation_id"] == correlation
    assert delivered["search_response"][0]["data"]["reg_records"][0]["group_identifier"][0]["identifier_value"] == one
    async with engine.connect() as connection:
        searches = await connection.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'dci.search'"))
    assert searches == 3, "each search answered is in the audit trail; the refused one left nothing"


async def _accepted(subscriber: Subscriber, action: str) -> list[Any]:
    return subscriber.accepted(action)


async def test_bad_requests_are_refused_with_the_standards_codes_and_store_nothing(
    worker: SagaWorker, engine: AsyncEngine
) -> None:
    good = search_message({"query_type": "predicate", "query": predicate(("region", "eq", "R01"))})
    unsigned = request("search", good, 1, None)
    forged = request("search", good, 1, "someone-elses-key-of-32-characters-or-more")
    tampered = request("search", good, 1, REQUEST_KEY)
    tampered["message"]["transaction_id"] = "changed"
    wrong_action = request("subscribe", good, 1, REQUEST_KEY)
    bad_operator = search_message({"query_type": "predicate", "query": predicate(("region", "like", "R%"))})
    private_uri = request("search", good, 1, REQUEST_KEY, "ftp://127.0.0.1/x")
    cases = [
        ("sync/search", unsigned, "err.signature.missing"),
        ("sync/search", forged, "err.signature.invalid"),
        ("sync/search", tampered, "err.signature.invalid"),
        ("sync/search", wrong_action, "err.request.bad"),
        ("sync/search", request("search", bad_operator, 1, REQUEST_KEY), "err.request.bad"),
        ("sync/search", {"header": {}, "message": {}}, "err.request.bad"),
        ("search", private_uri, "err.sender_uri.invalid"),
        ("search", request("search", good, 1, REQUEST_KEY), "err.sender_uri.invalid"),
    ]
    async with engine.connect() as connection:
        before = await connection.scalar(text("SELECT count(*) FROM dci_transactions"))
    for path, body, code in cases:
        response = await post(worker, Role.AUDITOR, path, body)
        assert response.status_code == 400, (code, response.text)
        assert response.json()["message"]["ack_status"] == "ERR"
        assert response.json()["message"]["error"]["code"] == code, response.text
    async with worker.client(Role.AUDITOR) as client:
        response = await client.post("/dci/registry/sync/search", content=b"not json")
    assert response.status_code == 400
    assert response.json()["message"]["error"]["code"] == "err.request.bad"
    assert (await post(worker, Role.AUDITOR, "subscribe", unsigned)).status_code == 403
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM dci_transactions")) == before
