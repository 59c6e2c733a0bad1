"""Assembles the Starlette application: every route, and the roles that may call it."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import Route

from dsrs.auth.roles import ALL_ROLES, READS_PERSONAL_DATA, Role
from dsrs.auth.tokens import TokenVerifier
from dsrs.runtime import Runtime
from dsrs.web import analytics, audit, health, households
from dsrs.web.security import Handler, guarded


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    roles: frozenset[Role] | None  # None: a public health probe


ENDPOINTS = (
    Endpoint("GET", "/health/live", health.live, None),
    Endpoint("GET", "/health/ready", health.ready, None),
    Endpoint("POST", "/api/v1/households", households.create, frozenset({Role.REGISTRAR})),
    Endpoint("GET", "/api/v1/households", households.listing, READS_PERSONAL_DATA),
    Endpoint("GET", "/api/v1/households/{household_id}", households.read, READS_PERSONAL_DATA),
    Endpoint("PUT", "/api/v1/households/{household_id}", households.replace, frozenset({Role.REGISTRAR})),
    Endpoint("GET", "/api/v1/analytics/summary", analytics.summary, ALL_ROLES),
    Endpoint("GET", "/api/v1/analytics/windows", analytics.windows, ALL_ROLES),
    Endpoint("GET", "/api/v1/outbox/lag", analytics.outbox, frozenset({Role.ADMIN, Role.AUDITOR})),
    Endpoint("GET", "/api/v1/audit", audit.listing, frozenset({Role.AUDITOR})),
)


def create_web_app(
    runtime: Runtime,
    verifier: TokenVerifier,
    insecure_bypass: bool = False,
    endpoints: tuple[Endpoint, ...] = ENDPOINTS,
) -> Starlette:
    routes = [
        Route(
            endpoint.path,
            endpoint.handler
            if endpoint.roles is None
            else guarded(endpoint.handler, endpoint.roles, verifier, insecure_bypass),
            methods=[endpoint.method],
        )
        for endpoint in endpoints
    ]
    app = Starlette(routes=routes)
    app.state.runtime = runtime
    return app
