"""The G2P Connect adapter against a small G2P-Connect-speaking server of the test's own: a cycle is paid
through `disburse` and `on-disburse`, each first attempt rejected and retried; callbacks for unknown
disbursements or other amounts are recorded as mismatches and refused."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.auth.roles import Role
from dsrs.rules import active_programs, load_programs
from dsrs.settings import Settings
from dsrs_dev.bench.environment import free_port
from dsrs_dev.stack.manager import Stack
from dsrs_dev.synthetic import household_fields
from tests.integration.conftest import run_dsrs
from tests.integration.saga import SagaWorker, engine_of, eventually, isolated_worker, payment_statuses, settled

pytestmark = pytest.mark.integration

TOKEN = "g2p-callback-token-for-the-integration-test"
CALLBACK = "/api/v1/g2p/disbursement/on-disburse"


class G2PServer:
    """Acknowledges each disburse, then calls back: an attempt ending in ':1' is rejected, others succeed."""

    def __init__(self) -> None:
        self.port = free_port()
        self.callback_url: str | None = None
        self.received: list[dict[str, Any]] = []
        self.callbacks: list[int] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer: dict[str, Any]
                if self.path == "/disburse":
                    server.received.append(body)
                    threading.Timer(0.2, server.call_back, [body["message"]["disbursements"]]).start()
                    answer = {"message": {"ack_status": "ACK", "timestamp": _now(), "correlation_id": "c"}}
                else:
                    answer = {"message": {"ack_status": "ERR", "error": {"code": "not.supported"}}}
                raw = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)

    def call_back(self, disbursements: list[dict[str, Any]]) -> None:
        statuses = [
            {
                "reference_id": d["reference_id"],
                "timestamp": _now(),
                "status": "RJCT" if d["reference_id"].endswith(":1") else "SUCC",
                "status_reason_code": "rjct.payee_fa.invalid" if d["reference_id"].endswith(":1") else None,
                "amount": d["amount"],
                "currency_code": d["currency_code"],
            }
            for d in disbursements
        ]
        self.callbacks.append(post_callback(self.callback_url or "", statuses))

    def __enter__(self) -> G2PServer:
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.shutdown()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def on_disburse(statuses: list[dict[str, Any]]) -> dict[str, Any]:
    header = {"message_id": "m1", "message_ts": _now(), "action": "on-disburse", "sender_id": "test-g2p"}
    return {"header": header, "message": {"transaction_id": "t1", "disbursements_status": statuses}}


def post_callback(url: str, statuses: list[dict[str, Any]], token: str = TOKEN) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.post(url, json=on_disburse(statuses), headers=headers, timeout=10).status_code


@pytest.fixture(scope="module")
def g2p() -> Iterator[G2PServer]:
    with G2PServer() as server:
        yield server


@pytest.fixture(scope="module")
def worker(
    stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory, g2p: G2PServer
) -> Iterator[SagaWorker]:
    env = {
        "DSRS_REGIONS": "R01,R02",
        "DSRS_PAYMENT_PROVIDER": "g2p-connect",
        "DSRS_G2P_URL": f"http://127.0.0.1:{g2p.port}",
        "DSRS_G2P_CALLBACK_TOKEN": TOKEN,
        "DSRS_PAYMENT_SEND_AHEAD_DAYS": "366",
        "DSRS_PAYMENT_RETRY_BASE_SECONDS": "0.2",
    }
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("g2p"), env) as worker:
        g2p.callback_url = f"{worker.base_url}{CALLBACK}"
        yield worker


@pytest.fixture(scope="module")
async def engine(worker: SagaWorker) -> AsyncIterator[AsyncEngine]:
    async with engine_of(worker) as engine:
        yield engine


async def test_a_cycle_is_paid_through_g2p_connect_with_a_rejection_retried(
    worker: SagaWorker, engine: AsyncEngine, g2p: G2PServer
) -> None:
    rng = random.Random(5)
    async with worker.client(Role.REGISTRAR) as client:
        for _ in range(12):
            response = await client.post("/api/v1/households", json=household_fields(rng, ("R01", "R02")))
            assert response.status_code == 201
    programs = active_programs(load_programs(worker.settings.programs_dir))
    await settled(engine, worker, 12, len(programs))
    for program in programs:
        result = run_dsrs("payments", "cycle", "open", program.id, env=worker.env)
        assert result.returncode == 0, result.stderr

    statuses = await eventually(
        lambda: payment_statuses(engine), lambda found: sum(found.values()) > 0 and set(found) == {"completed"}
    )
    async with engine.connect() as connection:
        walks = {
            row.walk
            for row in await connection.execute(
                text(
                    "SELECT string_agg(to_status, '>' ORDER BY id) AS walk FROM payment_transitions GROUP BY payment_id"
                )
            )
        }
        references = (await connection.execute(text("SELECT provider_reference, amount FROM payments"))).all()
    assert walks == {"scheduled>sent>failed>scheduled>sent>completed"}
    assert all(reference.endswith(":2") for reference, _ in references)
    sent = [d for body in g2p.received for d in body["message"]["disbursements"]]
    assert len(sent) == 2 * statuses["completed"]
    assert {body["header"]["action"] for body in g2p.received} == {"disburse"}
    assert set(g2p.callbacks) == {200}

    # A callback for a disbursement DSRS never ordered, or with another amount: a mismatch and a 4xx.
    url = f"{worker.base_url}{CALLBACK}"
    unknown = {"reference_id": "not-ours:1", "timestamp": _now(), "status": "SUCC", "amount": "10.00"}
    assert post_callback(url, [unknown]) == 404
    reference, amount = references[0]
    wrong = {"reference_id": reference, "timestamp": _now(), "status": "SUCC", "amount": str(amount + 1)}
    assert post_callback(url, [wrong]) == 422
    assert post_callback(url, [unknown], token="x" * 40) == 401
    async with httpx.AsyncClient() as client:
        assert (
            await client.post(url, content=b"not json", headers={"Authorization": f"Bearer {TOKEN}"})
        ).status_code == 400
    async with worker.client(Role.AUDITOR) as auditor:
        found = (await auditor.get("/api/v1/payments/reconciliation")).json()["items"]
    assert {(m["kind"], m["reference"]) for m in found} >= {
        ("unknown_reference", "not-ours:1"),
        ("amount_mismatch", reference),
    }
    assert await payment_statuses(engine) == statuses, "refused callbacks change no payment"
