"""/api/v1/duplicates: the review queue of suspected duplicates, and an officer's merge or dismissal."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from dsrs.audit.trail import AuditEntry, record
from dsrs.db.schema import DUPLICATE_STATUSES
from dsrs.monitoring.trace_context import new_traceparent
from dsrs.monitoring.tracing import current_traceparent
from dsrs.registry.review import Decision, NotInPair, PairConflict, PairFilter, PairNotFound, dismiss, list_pairs, merge
from dsrs.web.body import BodyRejected, json_object
from dsrs.web.context import path_id, started_runtime
from dsrs.web.params import QueryErrors
from dsrs.web.responses import ApiResponse, error
from dsrs.web.schemas import EmptyBody, Operation, Page, Record, ok
from dsrs.web.security import principal_of

MAX_PAGE = 500
MERGE_HINT = 'the body must be a JSON object such as {"keep": "<household id>"}'


def _min_score(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(raw) from None
    if not value.is_finite() or not 0 <= value <= 1:
        raise ValueError(raw)
    return value


async def listing(request: Request) -> Response:
    runtime = await started_runtime(request)
    query = QueryErrors(request.query_params)
    limit = query.limit(maximum=MAX_PAGE)
    after = query.uuid("after")
    where = PairFilter(
        region=request.query_params.get("region"),
        min_score=query.parse("score", _min_score, "must be a number from 0 to 1 (the lowest score listed)"),
        status=query.choice("status", DUPLICATE_STATUSES),
    )
    if query.errors:
        return error(422, "invalid query", errors=query.errors)
    async with runtime.engine.connect() as connection:
        page = await list_pairs(connection, limit, after, where)
    return ApiResponse({"items": page.items, "next_after": page.next_after})


NOT_A_MEMBER = "must be the id of one of the pair's households"


def _id_of(raw: object) -> uuid.UUID | None:
    if not isinstance(raw, str):
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def _household_ids(body: dict[str, Any]) -> tuple[uuid.UUID, uuid.UUID | None] | Response:
    """`keep` (required) and `merge` (optional: the other household, named to be explicit)."""
    keep, leaving = _id_of(body.get("keep")), _id_of(body.get("merge"))
    errors = [{"field": "keep", "message": NOT_A_MEMBER}] if keep is None else []
    if body.get("merge") is not None and leaving is None:
        errors.append({"field": "merge", "message": NOT_A_MEMBER})
    errors += [{"field": name, "message": "unknown field"} for name in sorted(set(body) - {"keep", "merge"})]
    if keep is None or errors:
        return error(422, "invalid body", errors=errors)
    return keep, leaving


async def _decided(request: Request, action: str, body: dict[str, Any]) -> Response:
    runtime = await started_runtime(request)
    pair_id = path_id(request, "pair_id")
    if pair_id is None:
        return error(404, "no such pair")
    principal = principal_of(request)
    try:
        async with runtime.engine.begin() as connection:
            decision: Decision
            if action == "merge":
                ids = _household_ids(body)
                if isinstance(ids, Response):
                    return ids
                trace = current_traceparent() or new_traceparent()
                source = runtime.settings.source_name
                decision = await merge(connection, pair_id, *ids, principal.subject, source, trace)
            else:
                decision = await dismiss(connection, pair_id, principal.subject)
            entry = AuditEntry(f"duplicate.{action}", "duplicate_pair", str(pair_id), decision.before, decision.after)
            await record(connection, principal, entry)
            if decision.departure is not None:
                left = decision.departure
                departure = AuditEntry(
                    "household.deactivate", "household", str(left.household_id), left.before, left.after
                )
                await record(connection, principal, departure)
    except PairNotFound:
        return error(404, "no such pair")
    except NotInPair:
        return error(422, "invalid body", errors=[{"field": "keep", "message": NOT_A_MEMBER}])
    except PairConflict as conflict:
        return error(409, str(conflict), current=conflict.pair)
    return ApiResponse(decision.after)


async def merge_pair(request: Request) -> Response:
    try:
        body = await json_object(request, MERGE_HINT)
    except BodyRejected as rejected:
        return rejected.response
    return await _decided(request, "merge", body)


async def dismiss_pair(request: Request) -> Response:
    try:
        await json_object(request, "the body must be empty or a JSON object", empty={})
    except BodyRejected as rejected:
        return rejected.response
    return await _decided(request, "dismiss", {})


class PairQuery(BaseModel):
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    after: uuid.UUID | None = Field(None, description="The last id of the previous page (its next_after)")
    region: str | None = None
    score: float | None = Field(None, ge=0, le=1, description="The lowest score listed")
    status: str | None = Field(None, json_schema_extra={"enum": list(DUPLICATE_STATUSES)})


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keep: uuid.UUID = Field(description="The household that stays")
    merge: uuid.UUID | None = Field(None, description="The other household, named to be explicit")


_DECISION_ERRORS = {404: "No such pair", 409: "The pair is not suspected any more: `current` holds it"}
LISTING = Operation("List suspected duplicate pairs, a page at a time", ok("A page of pairs", Page), query=PairQuery)
MERGE = Operation(
    "Merge a pair: keep one household, deactivate the other with reason duplicate",
    ok("Merged: the pair", Record),
    {**_DECISION_ERRORS, 422: "keep or merge is not one of the pair's households"},
    body=MergeBody,
)
DISMISS = Operation(
    "Dismiss a pair: two families, never raised again",
    ok("Dismissed: the pair", Record),
    _DECISION_ERRORS,
    body=EmptyBody,
    body_required=False,
)
