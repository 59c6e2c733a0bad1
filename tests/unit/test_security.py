"""Every route x every role x every way a token can be wrong gets the right status."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.testclient import TestClient

from dsrs.auth.roles import Role
from dsrs.auth.tokens import SecretVerifier
from dsrs.web.app import ENDPOINTS, Endpoint, create_web_app

SECRET = "s" * 48
ISSUER, AUDIENCE = "dsrs-test", "dsrs-api"


async def reached(request: Request) -> Response:
    return PlainTextResponse("handler reached")


def token(role: str | None = "auditor", secret: str = SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    now = int(time.time())
    payload = {"sub": "tester", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 600}
    if role is not None:
        payload["roles"] = [role]
    payload.update(claims)
    if algorithm == "none":
        return jwt.encode(payload, "", algorithm="none")
    return jwt.encode(payload, secret, algorithm=algorithm)


def client(bypass: bool = False) -> TestClient:
    # The real route table and roles, with every handler replaced: this tests the gate, not the handlers.
    stubbed = tuple(Endpoint(e.method, e.path, reached, e.roles) for e in ENDPOINTS)
    verifier = SecretVerifier(SECRET, ISSUER, AUDIENCE)
    return TestClient(create_web_app(None, verifier, insecure_bypass=bypass, endpoints=stubbed))  # type: ignore[arg-type]


def call(endpoint: Endpoint, headers: dict[str, str], bypass: bool = False) -> int:
    path = endpoint.path.replace("{household_id}", "0b5c3f0e-4f5e-4bd0-9c8e-0d1f2a3b4c5d")
    status: int = client(bypass).request(endpoint.method, path, headers=headers, json={}).status_code
    return status


PROTECTED = [e for e in ENDPOINTS if e.roles is not None]
BAD_TOKENS = {
    "expired": token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200),
    "not yet valid": token(nbf=int(time.time()) + 3600),
    "wrong audience": token(aud="someone-else"),
    "wrong issuer": token(iss="https://evil.example"),
    "bad signature": token(secret="x" * 48),
    "alg none": token(algorithm="none"),
    "no subject": jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 60, "iat": 1}, SECRET),
    "garbage": "not.a.token",
}


@pytest.mark.parametrize("endpoint", PROTECTED, ids=lambda e: f"{e.method} {e.path}")
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_each_role_reaches_only_its_routes(endpoint: Endpoint, role: Role) -> None:
    assert endpoint.roles is not None
    expected = 200 if role in endpoint.roles else 403
    assert call(endpoint, {"Authorization": f"Bearer {token(role.value)}"}) == expected


@pytest.mark.parametrize("endpoint", PROTECTED, ids=lambda e: f"{e.method} {e.path}")
@pytest.mark.parametrize("case", [*BAD_TOKENS, "no token", "not bearer"])
def test_every_bad_token_is_a_401(endpoint: Endpoint, case: str) -> None:
    if case == "no token":
        headers = {}
    elif case == "not bearer":
        headers = {"Authorization": f"Basic {token()}"}
    else:
        headers = {"Authorization": f"Bearer {BAD_TOKENS[case]}"}
    assert call(endpoint, headers) == 401


@pytest.mark.parametrize("endpoint", PROTECTED, ids=lambda e: f"{e.method} {e.path}")
def test_a_token_without_a_known_role_is_a_403(endpoint: Endpoint) -> None:
    assert call(endpoint, {"Authorization": f"Bearer {token('superuser')}"}) == 403
    assert call(endpoint, {"Authorization": f"Bearer {token(None)}"}) == 403


def test_health_probes_need_no_token() -> None:
    for endpoint in (e for e in ENDPOINTS if e.roles is None):
        assert call(endpoint, {}) == 200


def test_the_local_bypass_lets_requests_through_without_a_token() -> None:
    assert all(call(endpoint, {}, bypass=True) == 200 for endpoint in PROTECTED)


# The DCI standard POSTs its reads: searches and transaction status change nothing in the registry.
DCI_READS = frozenset(
    {"/dci/registry/search", "/dci/registry/sync/search", "/dci/registry/txn/status", "/dci/registry/sync/txn/status"}
)


def test_an_auditor_writes_nothing() -> None:
    writes = [e for e in ENDPOINTS if e.method in ("POST", "PUT", "PATCH", "DELETE") and e.path not in DCI_READS]
    assert writes
    assert all(Role.AUDITOR not in (e.roles or ()) for e in writes)


def test_a_401_does_not_echo_the_token() -> None:
    bad = BAD_TOKENS["bad signature"]
    response = client().get("/api/v1/audit", headers={"Authorization": f"Bearer {bad}"})
    assert response.status_code == 401
    assert bad not in response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
