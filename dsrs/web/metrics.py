"""GET /metrics for Prometheus, and the request timing every route gets."""

from __future__ import annotations

import time

from opentelemetry.trace import SpanKind
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from dsrs.monitoring.metrics import HTTP_REQUEST_SECONDS
from dsrs.monitoring.trace_context import TRACEPARENT
from dsrs.monitoring.tracing import span
from dsrs.web.schemas import Operation, Reply
from dsrs.web.security import Handler


async def scrape(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def timed(handler: Handler, route: str, method: str) -> Handler:
    """Labelled by the route's template, not the concrete path: ids would make a series per household."""

    async def run(request: Request) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            with span(f"{method} {route}", request.headers.get(TRACEPARENT), SpanKind.SERVER) as server:
                response = await handler(request)
                status = response.status_code
                server.set_attribute("http.status_code", status)
            return response
        finally:
            HTTP_REQUEST_SECONDS.labels(route=route, method=method, status=str(status)).observe(
                time.perf_counter() - started
            )

    return run


SCRAPE = Operation(
    "Prometheus metrics",
    {200: Reply("The text exposition format", media={"text/plain": {"type": "string"}})},
)
