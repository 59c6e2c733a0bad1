"""Hostile requests against the real handlers: each gets a JSON 4xx in the error shape, and none reaches
the database (the runtime here has none to reach)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from dsrs.auth.tokens import SecretVerifier
from dsrs.web.app import ENDPOINTS, Endpoint, create_web_app
from dsrs.web.body import MAX_BODY_BYTES, MAX_JSON_DEPTH, json_depth

HOUSEHOLD_ID = "0b5c3f0e-4f5e-4bd0-9c8e-0d1f2a3b4c5d"
PAYMENT_ID = "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"


class NoDatabase:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError("a hostile request reached the database")


@dataclass
class Settings:
    regions: tuple[str, ...] = ("R01", "R02")
    source_name: str = "test"


@dataclass
class Runtime:
    settings: Settings = field(default_factory=Settings)
    engine: NoDatabase = field(default_factory=NoDatabase)

    async def start(self) -> None:
        return None


def client(endpoints: tuple[Endpoint, ...] = ENDPOINTS) -> TestClient:
    # The local bypass: this tests what handlers make of their input, test_security.py the tokens.
    app = create_web_app(Runtime(), SecretVerifier("s" * 48, "i", "a"), insecure_bypass=True, endpoints=endpoints)  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False)


def household(**overrides: Any) -> dict[str, Any]:
    return {
        "head_of_household_name": "Amina Okafor",
        "region": "R01",
        "household_size": 3,
        "monthly_income": 40,
        **overrides,
    }


def nested_arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def assert_json_4xx(response: Any, status: int | None = None) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:200])
    if status is not None:
        assert response.status_code == status, response.text[:200]
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert isinstance(body["error"], str)
    return body


def field_errors(response: Any) -> set[str]:
    body = assert_json_4xx(response, 422)
    return {problem["field"] for problem in body["errors"]}


QUERIES = [
    ("/api/v1/households?region=R01%00", "region"),
    ("/api/v1/payments?program=a%00b", "program"),
    ("/api/v1/payments?program=a%1Bb", "program"),
    ("/api/v1/analytics/summary?region=%C2%85", "region"),
    ("/api/v1/analytics/windows?program=%7F", "program"),
    ("/api/v1/admin/dlq?topic=a%00", "topic"),
    ("/api/v1/audit?after=9223372036854775808", "after"),
    ("/api/v1/audit?after=-1", "after"),
    ("/api/v1/audit?after=1_000", "after"),
    ("/api/v1/audit?after=%D9%A1%D9%A2", "after"),
    ("/api/v1/audit?after=" + "9" * 5000, "after"),
    ("/api/v1/audit?limit=-5", "limit"),
    ("/api/v1/audit?limit=99999999999999999999", "limit"),
    ("/api/v1/households?limit=-1", "limit"),
    ("/api/v1/households?after=%00", "after"),
    ("/api/v1/payments?limit=0", "limit"),
    ("/api/v1/payments?due_from=2025-01-01%00", "due_from"),
    ("/api/v1/payments/reconciliation?limit=-1", "limit"),
]


@pytest.mark.parametrize(("path", "field_name"), QUERIES, ids=[path for path, _ in QUERIES])
def test_a_hostile_query_is_a_field_error(path: str, field_name: str) -> None:
    assert field_name in field_errors(client().get(path))


BODY_ROUTES = [
    ("POST", "/api/v1/households"),
    ("PUT", f"/api/v1/households/{HOUSEHOLD_ID}"),
    ("POST", f"/api/v1/payments/{PAYMENT_ID}/cancel"),
    ("POST", f"/api/v1/payments/{PAYMENT_ID}/retry"),
]
DEEP_BODIES = {
    "arrays 100,000 deep": (nested_arrays(100_000), 413),
    "objects 50,000 deep": (nested_objects(50_000), 413),
    "arrays 10,000 deep": (nested_arrays(10_000), 400),
    "objects 5,000 deep": (nested_objects(5_000), 400),
    "just past the depth cap": (nested_arrays(MAX_JSON_DEPTH + 1), 400),
}


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=[f"{m} {p}" for m, p in BODY_ROUTES])
@pytest.mark.parametrize("case", DEEP_BODIES)
def test_a_deeply_nested_body_is_refused_before_parsing(method: str, path: str, case: str) -> None:
    body, status = DEEP_BODIES[case]
    response = client().request(method, path, content=body, headers={"Content-Type": "application/json"})
    assert_json_4xx(response, status)


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=[f"{m} {p}" for m, p in BODY_ROUTES])
def test_a_body_too_large_is_refused_even_without_a_declared_length(method: str, path: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"reason": "'
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    assert_json_4xx(client().request(method, path, content=chunks()), 413)


BAD_JSON = {
    "not JSON": b"{not json",
    "invalid UTF-8": b'{"reason": "\xff\xfe"}',
    "NaN": b'{"monthly_income": NaN}',
    "a 5,000-digit number": b'{"reason": ' + b"9" * 5000 + b"}",
    "not an object": b'["reason"]',
}


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES, ids=[f"{m} {p}" for m, p in BODY_ROUTES])
@pytest.mark.parametrize("case", BAD_JSON)
def test_a_body_that_is_not_a_json_object_is_a_400(method: str, path: str, case: str) -> None:
    assert_json_4xx(client().request(method, path, content=BAD_JSON[case]), 400)


HOSTILE_HOUSEHOLDS: dict[str, tuple[dict[str, Any], str]] = {
    "NUL in the name": ({"head_of_household_name": "Amina\x00Okafor"}, "head_of_household_name"),
    "NUL in the address": ({"address": "12 Market Road\x00"}, "address"),
    "escape in the name": ({"head_of_household_name": "Amina \x1b[31mOkafor"}, "head_of_household_name"),
    "C1 control in the address": ({"address": "12\x85Market Road"}, "address"),
    "lone surrogate in the name": ({"head_of_household_name": "Amina \ud800"}, "head_of_household_name"),
    "NUL in the email": ({"email": "a\x00b@example.org"}, "email"),
    "NUL in the region": ({"region": "R01\x00"}, "region"),
    "income past the maximum": ({"monthly_income": 1e15}, "monthly_income"),
    "income as a huge exponent": ({"monthly_income": "1e999999"}, "monthly_income"),
    "size past 64 bits": ({"household_size": 2**70}, "household_size"),
}


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES[:2], ids=["POST", "PUT"])
@pytest.mark.parametrize("case", HOSTILE_HOUSEHOLDS)
def test_a_hostile_household_is_a_field_error(method: str, path: str, case: str) -> None:
    overrides, field_name = HOSTILE_HOUSEHOLDS[case]
    # json.dumps escapes the NUL and the surrogate as \u0000 and \ud800, as a client would send them.
    response = client().request(method, path, content=json.dumps(household(**overrides)))
    assert field_errors(response) == {field_name}


REASONS: dict[str, object] = {
    "lone surrogate": "\ud800",
    "NUL": "stolen\x00",
    "escape sequence": "\x1b]0;owned\x07",
    "not text": 42,
    "an object": {"text": "why"},
}


@pytest.mark.parametrize("action", ["cancel", "retry"])
@pytest.mark.parametrize("case", REASONS)
def test_a_hostile_reason_is_a_field_error(action: str, case: str) -> None:
    content = json.dumps({"reason": REASONS[case]})
    assert field_errors(client().post(f"/api/v1/payments/{PAYMENT_ID}/{action}", content=content)) == {"reason"}


def test_an_unknown_path_is_a_json_404() -> None:
    assert_json_4xx(client().get("/api/v1/nothing-here%00"), 404)


def test_a_method_a_route_lacks_is_a_json_405_that_says_what_is_allowed() -> None:
    response = client().delete("/api/v1/households")
    assert_json_4xx(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_a_malformed_id_in_the_path_is_a_json_404() -> None:
    assert_json_4xx(client().get("/api/v1/payments/%00"), 404)
    assert_json_4xx(client().post("/api/v1/payments/not-an-id/cancel"), 404)


def test_a_failing_handler_answers_in_the_error_shape_without_detail() -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("secret detail")

    response = client((Endpoint("GET", "/broken", broken, None),)).get("/broken")
    assert response.status_code == 500
    assert response.json() == {"error": "internal server error"}


def test_the_depth_scan_ignores_brackets_inside_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": "\\"]]]"}]}') == 3
    assert json_depth(b"1") == 0
    assert json_depth(nested_arrays(100_000)) == 100_000
