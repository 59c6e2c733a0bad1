"""Property-based: schemathesis drives a worker of its own from its /openapi.json, and every answer must be no
5xx, carry a status the operation declares, and match the schema declared for that status."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation, Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from dsrs.auth.local import issue_token
from dsrs.auth.roles import Role
from dsrs.settings import Settings
from dsrs.web.app import ENDPOINTS
from dsrs_dev.stack.manager import Stack
from tests.integration.saga import SagaWorker, isolated_worker

pytestmark = pytest.mark.integration

# Replaying dead letters reads every dead-letter topic from Kafka and re-publishes into the saga: seconds per
# example, and side effects on shared topics, for a route whose query is two plain strings.
EXCLUDED = {("POST", "/api/v1/admin/dlq/replay")}
OPERATIONS = [(e.method, e.path) for e in ENDPOINTS if (e.method, e.path) not in EXCLUDED]
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def worker(stack: Stack, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SagaWorker]:
    env = {"DSRS_REGIONS": "R01,R02"}
    with isolated_worker(stack, settings, tmp_path_factory.mktemp("openapi"), env) as worker:
        yield worker


@pytest.fixture(scope="module")
def token(worker: SagaWorker) -> str:
    return issue_token(worker.settings, list(Role), ttl_seconds=3600, subject="test-openapi-fuzz")


@pytest.fixture(scope="module")
def schema(worker: SagaWorker) -> schemathesis.BaseSchema:
    # Public: the document is fetched without a token.
    return schemathesis.openapi.from_url(f"{worker.base_url}/openapi.json", timeout=10)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_keeps_its_document(
    schema: schemathesis.BaseSchema, worker: SagaWorker, token: str, method: str, path: str
) -> None:
    operation = schema[path][method]
    headers = {"Authorization": f"Bearer {token}"}

    @settings(
        max_examples=15,
        deadline=timedelta(seconds=5),
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    @given(case=operation.as_strategy())
    def run(case: Case[APIOperation[Any, Any, Any, Any]]) -> None:
        case.call_and_validate(base_url=worker.base_url, headers=headers, checks=CHECKS, timeout=10)

    run()
