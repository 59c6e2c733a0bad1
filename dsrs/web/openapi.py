"""GET /openapi.json: the OpenAPI 3.1 document, built from the route table and the pydantic models its
operations declare (dsrs.web.schemas.Operation), never kept by hand."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import Response

import dsrs
from dsrs.auth.roles import Role
from dsrs.web.responses import ApiResponse
from dsrs.web.schemas import PROVIDER_SCHEME, ApiError, JsonSchema, Operation, Reply
from dsrs.web.security import Handler

USER_SCHEME = "bearerAuth"
REF_TEMPLATE = "#/components/schemas/{model}"
SECURITY_SCHEMES = {
    USER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT whose `roles` claim lists DSRS roles; each operation says which roles it allows.",
    },
    PROVIDER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "description": "The payment provider's own callback token (DSRS_G2P_CALLBACK_TOKEN), not a user's JWT.",
    },
}
_PATH_PARAMETER = re.compile(r"{([^}:]+)}")
_UUID = {"type": "string", "format": "uuid"}
# How each path parameter reads; a malformed id is answered 404 like an unknown one.
PATH_SCHEMAS: Mapping[str, JsonSchema] = {
    "household_id": _UUID,
    "payment_id": _UUID,
    "assessment_id": _UUID,
    "job_id": _UUID,
    "program_id": {"type": "string", "description": "A program id, such as cash-transfer"},
    "version": {"type": "string", "description": "A program version, such as 2025.1"},
    "cycle": {"type": "string", "description": "A payment cycle, YYYY-MM"},
    "name": {"type": "string", "description": "A file of the live page"},
}
GUARDED_ERRORS = {401: "No bearer token, or one that is not valid", 403: "The token's roles include none allowed"}
BODY_ERRORS = {400: "The body is not the JSON this route reads", 413: "The body is larger than the API accepts"}
QUERY_ERROR = "A query parameter is invalid, or a query value holds control characters"


class Documented(Protocol):
    """What the document needs of a route table entry (dsrs.web.app.Endpoint)."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def handler(self) -> Handler: ...
    @property
    def roles(self) -> frozenset[Role] | None: ...
    @property
    def operation(self) -> Operation | None: ...


def _models(operations: Iterable[Operation]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {(ApiError, "serialization"): None}
    for operation in operations:
        for model in (operation.body, operation.query):
            if model is not None:
                wanted[model, "validation"] = None
        for reply in operation.replies.values():
            if reply.model is not None:
                wanted[reply.model, "serialization"] = None
    return list(wanted)


class _Builder:
    def __init__(self, operations: Iterable[Operation]) -> None:
        models = _models(operations)
        self.refs, top = models_json_schema(models, ref_template=REF_TEMPLATE)
        self.components: dict[str, JsonSchema] = top.get("$defs", {})
        # Query models only list parameters: their fields go inline, and they are no schemas of their own.
        self.inline: set[str] = set()

    def schemas(self) -> dict[str, JsonSchema]:
        return {name: schema for name, schema in sorted(self.components.items()) if name not in self.inline}

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> JsonSchema:
        return dict(self.refs[model, mode])

    def query(self, model: type[BaseModel]) -> list[JsonSchema]:
        name = self.refs[model, "validation"]["$ref"].rpartition("/")[2]
        schema = self.components[name]
        self.inline.add(name)
        required = set(schema.get("required", ()))
        parameters = []
        for field, property_schema in schema["properties"].items():
            shown = {key: value for key, value in property_schema.items() if key not in ("title", "description")}
            # An absent parameter is the null of an optional field: a query value is never null.
            shown |= next((s for s in shown.pop("anyOf", ()) if s.get("type") != "null"), {})
            if shown.get("default", 0) is None:
                del shown["default"]
            parameter = {"name": field, "in": "query", "required": field in required, "schema": shown}
            if "description" in property_schema:
                parameter["description"] = property_schema["description"]
            parameters.append(parameter)
        return parameters

    def reply(self, reply: Reply) -> JsonSchema:
        shown: JsonSchema = {"description": reply.description}
        content = {media: {"schema": schema} for media, schema in reply.media.items()}
        if reply.model is not None:
            content["application/json"] = {"schema": self.ref(reply.model, "serialization")}
        if content:
            shown["content"] = content
        return shown

    def operation(self, endpoint: Documented) -> JsonSchema:
        declared = endpoint.operation or Operation(getattr(endpoint.handler, "__name__", endpoint.path), {})
        errors = {422: QUERY_ERROR}
        if endpoint.roles is not None:
            errors |= GUARDED_ERRORS
        if declared.body is not None or declared.other_bodies:
            errors |= BODY_ERRORS
        errors |= declared.errors
        error_content = {"application/json": {"schema": self.ref(ApiError, "serialization")}}
        responses = {str(status): self.reply(reply) for status, reply in declared.replies.items()}
        for status, description in errors.items():
            # A status the operation answers in a shape of its own (DCI's ERR acknowledgement) keeps it.
            if status not in declared.replies:
                responses[str(status)] = {"description": description, "content": error_content}
        shown: JsonSchema = {
            "operationId": re.sub(r"[^A-Za-z0-9]+", "_", f"{endpoint.method} {endpoint.path}").strip("_").lower(),
            "summary": declared.summary,
            "tags": [_tag(endpoint.path)],
            "responses": dict(sorted(responses.items())),
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": dict(PATH_SCHEMAS.get(name, {"type": "string"}))}
            for name in _PATH_PARAMETER.findall(endpoint.path)
        ]
        if declared.query is not None:
            parameters += self.query(declared.query)
        parameters += [
            {"name": name, "in": "header", "required": False, "schema": schema}
            for name, schema in declared.headers.items()
        ]
        if parameters:
            shown["parameters"] = parameters
        body = {media: {"schema": schema} for media, schema in declared.other_bodies.items()}
        if declared.body is not None:
            body = {"application/json": {"schema": self.ref(declared.body, "validation")}, **body}
        if body:
            shown["requestBody"] = {"required": declared.body_required, "content": body}
        if endpoint.roles is not None:
            shown["security"] = [{USER_SCHEME: []}]
            shown["description"] = "Roles: " + ", ".join(sorted(role.value for role in endpoint.roles))
        elif declared.security_scheme is not None:
            shown["security"] = [{declared.security_scheme: []}]
            shown["description"] = "Authenticated by its own bearer token, not a user's JWT."
        else:
            shown["description"] = "Public: no token."
        return shown


def _tag(path: str) -> str:
    if path.startswith("/dci/"):
        return "dci"
    parts = path.removeprefix("/api/v1/").strip("/").split("/")
    return parts[0] or "ui"


def build_document(endpoints: Iterable[Documented]) -> dict[str, Any]:
    endpoints = tuple(endpoints)
    builder = _Builder(endpoint.operation for endpoint in endpoints if endpoint.operation is not None)
    paths: dict[str, dict[str, JsonSchema]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = builder.operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "DSRS: Dynamic Social Registry System",
            "version": dsrs.__version__,
            "description": "The registry's REST API. Errors share one shape (ApiError); see docs/api.md.",
        },
        "paths": paths,
        "components": {"schemas": builder.schemas(), "securitySchemes": SECURITY_SCHEMES},
    }


async def serve(request: Request) -> Response:
    return ApiResponse(request.app.state.openapi)


SERVE = Operation(
    "This document: OpenAPI 3.1, built from the route table",
    {200: Reply("The OpenAPI document", media={"application/json": {"type": "object"}})},
)
