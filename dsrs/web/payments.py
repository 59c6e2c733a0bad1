"""/api/v1/payments: payments with their history, officer actions, and reconciliation results."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import BaseModel, Field
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
from dsrs.web.schemas import EmptyBody, Items, Operation, Page, Record, ok
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


class PaymentQuery(BaseModel):
    limit: int = Field(50, ge=1, le=500)
    after: uuid.UUID | None = Field(None, description="The last id of the previous page (its next_after)")
    status: str | None = Field(None, json_schema_extra={"enum": list(PAYMENT_STATUSES)})
    program: str | None = None
    household: uuid.UUID | None = None
    due_from: date | None = None
    due_to: date | None = None


class ReconciliationQuery(BaseModel):
    limit: int = Field(100, ge=1, le=1000)
    run: uuid.UUID | None = Field(None, description="Only this reconciliation run's results")
    kind: str | None = Field(None, json_schema_extra={"enum": list(MISMATCH_KINDS)})


class OfficerAction(EmptyBody):
    reason: str | None = Field(None, description=f"Why, for the audit trail (at most {MAX_REASON} characters kept)")


class PaymentStatus(Record):
    status: str


LISTING = Operation("List payments, a page at a time", ok("A page of payments", Page), query=PaymentQuery)
RECONCILIATION = Operation("Reconciliation mismatches", ok("The mismatches found", Items), query=ReconciliationQuery)
READ = Operation("A payment with its history", ok("The payment", Record), {404: "No such payment"})
_ACTION_ERRORS = {
    404: "No such payment",
    409: "The payment's status does not allow this",
    422: "The reason is not plain text",
}
CANCEL = Operation(
    "Cancel a payment",
    ok("Cancelled: the payment's new status", PaymentStatus),
    _ACTION_ERRORS,
    body=OfficerAction,
    body_required=False,
)
RETRY = Operation(
    "Retry a failed payment",
    ok("Scheduled again: the payment's new status", PaymentStatus),
    _ACTION_ERRORS,
    body=OfficerAction,
    body_required=False,
)
