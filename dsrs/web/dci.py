"""/dci/registry/...: the DCI Social Registry API (dsrs.dci; docs/dci.md).

Every answer is in the standard's shapes: a synchronous answer ({signature, header, message}), an ACK, or an
ERR acknowledgement with the standard's error code, for a request refused whole (nothing of it stored).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from dsrs.dci.envelope import refusal
from dsrs.dci.errors import REQUEST_BAD, DciError
from dsrs.dci.messages import Ack, Answer, Envelope
from dsrs.dci.service import Caller, DciService
from dsrs.web.body import BodyRejected, json_object
from dsrs.web.context import started_runtime
from dsrs.web.responses import ApiResponse
from dsrs.web.schemas import Operation, Reply
from dsrs.web.security import principal_of

Operate = Callable[[DciService, dict[str, Any], Caller], Awaitable[dict[str, Any]]]
HINT = "the body must be a DCI message: a JSON object of signature, header and message"


def _rejected(rejected: BodyRejected) -> Response:
    shown = json.loads(bytes(rejected.response.body))
    error = DciError(REQUEST_BAD, str(shown.get("error", HINT)))
    return ApiResponse(refusal(error), status_code=rejected.response.status_code)


async def _serve(request: Request, operate: Operate) -> Response:
    runtime = await started_runtime(request)
    try:
        body = await json_object(request, HINT)
    except BodyRejected as rejected:
        return _rejected(rejected)
    try:
        answer = await operate(runtime.dci(), body, Caller(principal_of(request)))
    except DciError as error:
        return ApiResponse(refusal(error), status_code=error.status)
    return ApiResponse(answer)


async def sync_search(request: Request) -> Response:
    return await _serve(request, lambda dci, body, caller: dci.search(body, caller, synchronous=True))


async def search(request: Request) -> Response:
    return await _serve(request, lambda dci, body, caller: dci.search(body, caller, synchronous=False))


async def subscribe(request: Request) -> Response:
    return await _serve(request, lambda dci, body, caller: dci.subscribe(body, caller))


async def unsubscribe(request: Request) -> Response:
    return await _serve(request, lambda dci, body, caller: dci.unsubscribe(body, caller))


async def sync_status(request: Request) -> Response:
    return await _serve(request, lambda dci, body, caller: dci.status(body, caller, synchronous=True))


async def status(request: Request) -> Response:
    return await _serve(request, lambda dci, body, caller: dci.status(body, caller, synchronous=False))


_REFUSED = {
    400: Reply("Refused whole, nothing stored: ERR with the standard's error code", Ack),
    413: Reply("The body is larger than the API accepts: ERR", Ack),
}
_NOT_FOUND = {404: Reply("No such transaction of the caller's: ERR err.request.not_found", Ack)}


def _operation(summary: str, success: Reply, *extra: dict[int, Reply]) -> Operation:
    replies = {200: success, **_REFUSED}
    for more in extra:
        replies |= more
    return Operation(summary, replies, body=Envelope)


_ACK = Reply("Acknowledged (ACK, with the correlation_id); the answer follows as a callback to sender_uri", Ack)
SYNC_SEARCH = _operation("DCI: search households, answered at once (on-search)", Reply("The answer", Answer))
SEARCH = _operation("DCI: search households; the answer is a callback (on-search)", _ACK)
SUBSCRIBE = _operation("DCI: subscribe to household events; notify callbacks follow", _ACK)
UNSUBSCRIBE = _operation("DCI: end subscriptions of the caller's", _ACK)
SYNC_STATUS = _operation(
    "DCI: a transaction's status, answered at once (txn-on-status)", Reply("The answer", Answer), _NOT_FOUND
)
STATUS = _operation("DCI: a transaction's status; the answer is a callback (txn-on-status)", _ACK, _NOT_FOUND)
