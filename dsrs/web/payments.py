"""/api/v1/payments: payments with their history, officer actions, and reconciliation results."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from dsrs.audit.trail import AuditEntry, record
from dsrs.db.schema import MISMATCH_KINDS, PAYMENT_STATUSES
from dsrs.payment import actions
from dsrs.payment.queries import PaymentFilter, get_payment, list_payments
from dsrs.payment.reconciliation import mismatches
from dsrs.registry.household import UNSAFE_TEXT_MESSAGE, is_plain_text
from dsrs.web.body import BodyRejected, json_object
from dsrs.web.context import path_id, read_one, started_runtime
from dsrs.web.params import QueryErrors
from dsrs.web.responses import ApiResponse, error
from dsrs.web.security import principal_of


async def listing(request: Request) -> Response:
    runtime = await started_runtime(request)
    query = QueryErrors(request.query_params)
    limit = query.limit()
    after = query.uuid("after")
    where = PaymentFilter(
        status=query.choice("status", PAYMENT_STATUSES),
        program_id=request.query_params.get("program"),
        household_id=query.uuid("household"),
        due_from=query.date("due_from"),
        due_to=query.date("due_to"),
    )
    if query.errors:
        return error(422, "invalid query", errors=query.errors)
    async with runtime.engine.connect() as connection:
        items, next_after = await list_payments(connection, limit, after, where)
    return ApiResponse({"items": items, "next_after": next_after})


async def read(request: Request) -> Response:
    return await read_one(request, "payment_id", get_payment, "payment")


DEFAULT_REASON = "cancelled by a program officer"
MAX_REASON = 500


def _reason(body: dict[str, Any]) -> str | Response:
    """The officer's reason, or a field error: it is stored as text and shown to auditors."""
    reason = body.get("reason")
    if reason is None or reason == "":
        return DEFAULT_REASON
    if not isinstance(reason, str):
        return error(422, "invalid body", errors=[{"field": "reason", "message": "must be text"}])
    if not is_plain_text(reason):
        return error(422, "invalid body", errors=[{"field": "reason", "message": UNSAFE_TEXT_MESSAGE}])
    return reason.strip()[:MAX_REASON] or DEFAULT_REASON


async def _act(request: Request, action: str) -> Response:
    runtime = await started_runtime(request)
    payment_id = path_id(request, "payment_id")
    if payment_id is None:
        return error(404, "no such payment")
    try:
        body = await json_object(request, 'the body must be a JSON object, such as {"reason": "..."}', empty={})
    except BodyRejected as rejected:
        return rejected.response
    reason = _reason(body)
    if isinstance(reason, Response):
        return reason
    source = runtime.settings.source_name
    try:
        async with runtime.engine.begin() as connection:
            if action == "cancel":
                outcome = await actions.cancel(connection, payment_id, reason, source)
            else:
                outcome = await actions.retry(connection, payment_id, source)
            entry = AuditEntry(
                f"payment.{action}",
                "payment",
                str(payment_id),
                {"status": outcome["before"]},
                {"status": outcome["status"]},
            )
            await record(connection, principal_of(request), entry)
    except actions.PaymentNotFound:
        return error(404, "no such payment")
    except actions.TransitionRefused as refused:
        return error(409, str(refused), current_status=refused.status)
    return ApiResponse({"id": payment_id, "status": outcome["status"]})


async def cancel(request: Request) -> Response:
    return await _act(request, "cancel")


async def retry(request: Request) -> Response:
    return await _act(request, "retry")


async def reconciliation(request: Request) -> Response:
    runtime = await started_runtime(request)
    query = QueryErrors(request.query_params)
    limit = query.limit(default=100, maximum=1000)
    run_id = query.uuid("run")
    kind = query.choice("kind", MISMATCH_KINDS)
    if query.errors:
        return error(422, "invalid query", errors=query.errors)
    async with runtime.engine.connect() as connection:
        items = await mismatches(connection, limit, run_id, kind)
    return ApiResponse({"items": items})
