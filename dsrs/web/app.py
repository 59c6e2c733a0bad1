"""Assembles the Starlette application from its route modules."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from dsrs.runtime import Runtime
from dsrs.web import analytics, health, households


def create_web_app(runtime: Runtime) -> Starlette:
    routes = [
        Route("/health/live", health.live, methods=["GET"]),
        Route("/health/ready", health.ready, methods=["GET"]),
        Route("/api/v1/households", households.create, methods=["POST"]),
        Route("/api/v1/households", households.listing, methods=["GET"]),
        Route("/api/v1/households/{household_id}", households.read, methods=["GET"]),
        Route("/api/v1/households/{household_id}", households.replace, methods=["PUT"]),
        Route("/api/v1/analytics/summary", analytics.summary, methods=["GET"]),
        Route("/api/v1/analytics/windows", analytics.windows, methods=["GET"]),
        Route("/api/v1/outbox/lag", analytics.outbox, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.runtime = runtime
    return app
