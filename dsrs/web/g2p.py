"""POST /api/v1/g2p/disbursement/on-disburse: G2P Connect's asynchronous disbursement callback.

The provider authenticates with a bearer token of its own (DSRS_G2P_CALLBACK_TOKEN), not a user's JWT:
it is a system that holds one secret, and the route takes nothing else from it. Each settled status
becomes a `payment.provider.settlement` event; an unknown disbursement or a different amount is recorded
as a reconciliation mismatch and answered 404 / 422.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from dsrs.events.topics import PROVIDER_SETTLEMENT
from dsrs.payment.providers.g2p_connect import accept_statuses
from dsrs.payment.providers.g2p_messages import InvalidCallback, ack, on_disburse_statuses
from dsrs.web.body import BodyRejected, json_object
from dsrs.web.context import started_runtime
from dsrs.web.responses import ApiResponse, error
from dsrs.web.schemas import PROVIDER_SCHEME, Operation, Reply

AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="dsrs-g2p"'}


def _authorized(request: Request, token: str) -> bool:
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.encode(), token.encode())


async def on_disburse(request: Request) -> Response:
    runtime = await started_runtime(request)
    settings = runtime.settings
    if settings.payment_provider != "g2p-connect" or settings.g2p_callback_token is None:
        return error(404, "not found")
    if not _authorized(request, settings.g2p_callback_token):
        return error(401, "missing or invalid bearer token", headers=AUTHENTICATE)
    try:
        body = await json_object(request, "the body must be a G2P Connect on-disburse message")
        statuses = on_disburse_statuses(body)
    except BodyRejected as rejected:
        return rejected.response
    except InvalidCallback as invalid:
        return error(400, "invalid on-disburse message", errors=[{"field": "message", "message": str(invalid)}])
    topic = settings.topic(PROVIDER_SETTLEMENT)
    accepted = await accept_statuses(runtime.saga_engine, runtime.producer, topic, statuses)
    problems = [{"reference_id": ref, "message": "unknown disbursement"} for ref in accepted.unknown]
    problems += [{"reference_id": ref, "message": "amount differs from the order"} for ref in accepted.mismatched]
    if problems:
        status = 404 if len(accepted.unknown) == len(problems) else 422
        what = "unknown disbursement" if status == 404 else "disbursement does not match its order"
        return error(status, what, errors=problems, published=accepted.published)
    header = body.get("header")
    correlation = header.get("message_id") if isinstance(header, dict) else None
    return ApiResponse(ack(str(correlation) if correlation else None))


ON_DISBURSE = Operation(
    "The payment provider's on-disburse callback (G2P Connect)",
    {200: Reply("Acknowledged", media={"application/json": {"type": "object", "required": ["message"]}})},
    {
        400: "Not a G2P Connect on-disburse message",
        401: "No valid provider token",
        404: "No G2P Connect provider is configured, or every disbursement is unknown",
        422: "A disbursement does not match its order",
    },
    other_bodies={"application/json": {"type": "object", "description": "A G2P Connect on-disburse message"}},
    security_scheme=PROVIDER_SCHEME,
)
