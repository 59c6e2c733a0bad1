"""GET /openapi.json: a valid OpenAPI 3.1 document of exactly the app's routes, with their errors and security."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate
from starlette.routing import Route
from starlette.testclient import TestClient

from dsrs.auth.tokens import SecretVerifier
from dsrs.web.app import ENDPOINTS, create_web_app
from dsrs.web.openapi import USER_SCHEME

VERIFIER = SecretVerifier("s" * 48, "dsrs-test", "dsrs-api")
ERROR_REF = {"$ref": "#/components/schemas/ApiError"}


@pytest.fixture(scope="module")
def served() -> tuple[dict[str, Any], set[tuple[str, str]]]:
    """The document as GET /openapi.json serves it without a token, and the app's (method, path) pairs."""
    app = create_web_app(None, VERIFIER)  # type: ignore[arg-type]
    response = TestClient(app).get("/openapi.json")
    assert response.status_code == 200
    # Starlette answers HEAD for every GET itself: the document lists the methods the routes declare.
    routes = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    return response.json(), routes


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_the_document_is_valid_openapi_3_1(served: tuple[dict[str, Any], set[tuple[str, str]]]) -> None:
    document, _ = served
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_the_document_lists_exactly_the_apps_routes(served: tuple[dict[str, Any], set[tuple[str, str]]]) -> None:
    document, routes = served
    assert set(operations(document)) == routes
    assert ("GET", "/openapi.json") in routes


def test_every_route_declares_its_operation() -> None:
    undeclared = [f"{e.method} {e.path}" for e in ENDPOINTS if e.operation is None]
    assert undeclared == []


def test_every_operation_has_an_error_response_in_the_error_shape(
    served: tuple[dict[str, Any], set[tuple[str, str]]],
) -> None:
    document, _ = served
    for key, operation in operations(document).items():
        errors = {status: r for status, r in operation["responses"].items() if status.startswith("4")}
        assert errors, key
        for status, response in errors.items():
            # DCI routes refuse a message in the standard's own shape (an ERR acknowledgement); their token
            # and query errors are the API's like every route's.
            own = key[1].startswith("/dci/") and status in ("400", "404", "413")
            expected = {"$ref": "#/components/schemas/Ack"} if own else ERROR_REF
            assert response["content"]["application/json"]["schema"] == expected, (key, status)


def test_operations_guarded_by_roles_require_the_bearer_token_and_name_the_roles(
    served: tuple[dict[str, Any], set[tuple[str, str]]],
) -> None:
    document, _ = served
    assert document["components"]["securitySchemes"][USER_SCHEME]["bearerFormat"] == "JWT"
    shown = operations(document)
    for endpoint in ENDPOINTS:
        operation = shown[endpoint.method, endpoint.path]
        if endpoint.roles is None:
            assert {USER_SCHEME: []} not in operation.get("security", []), endpoint.path
            continue
        assert operation["security"] == [{USER_SCHEME: []}], endpoint.path
        assert {"401", "403"} <= set(operation["responses"]), endpoint.path
        for role in endpoint.roles:
            assert role.value in operation["description"], (endpoint.path, role)


def test_declared_models_and_parameters_reach_the_document(
    served: tuple[dict[str, Any], set[tuple[str, str]]],
) -> None:
    document, _ = served
    create = document["paths"]["/api/v1/households"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/HouseholdFields"}
    fields = document["components"]["schemas"]["HouseholdFields"]
    assert {"head_of_household_name", "region", "household_size", "monthly_income"} <= set(fields["required"])
    assert "201" in create["responses"]
    listing = document["paths"]["/api/v1/payments"]["get"]["parameters"]
    status = next(p for p in listing if p["name"] == "status")
    assert status["in"] == "query"
    assert "cancelled" in status["schema"]["enum"]
    read = document["paths"]["/api/v1/payments/{payment_id}"]["get"]["parameters"]
    uuid = {"type": "string", "format": "uuid"}
    assert read == [{"name": "payment_id", "in": "path", "required": True, "schema": uuid}]
