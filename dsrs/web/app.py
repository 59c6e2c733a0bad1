"""Assembles the Starlette application: every route, and the roles that may call it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.routing import Route

from dsrs.auth.local import verifier_for
from dsrs.auth.roles import ALL_ROLES, READS_PERSONAL_DATA, Role
from dsrs.auth.tokens import TokenVerifier
from dsrs.settings import Settings
from dsrs.web import analytics, audit, dead_letters, health, households, metrics, payments
from dsrs.web.metrics import timed
from dsrs.web.security import Handler, guarded
from dsrs.worker.runtime import Runtime

PAYMENT_READERS = frozenset({Role.PROGRAM_OFFICER, Role.AUDITOR})


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    roles: frozenset[Role] | None  # None: a public health probe


ENDPOINTS = (
    Endpoint("GET", "/health/live", health.live, None),
    Endpoint("GET", "/health/ready", health.ready, None),
    Endpoint("GET", "/metrics", metrics.scrape, frozenset({Role.ADMIN})),
    Endpoint("POST", "/api/v1/households", households.create, frozenset({Role.REGISTRAR})),
    Endpoint("GET", "/api/v1/households", households.listing, READS_PERSONAL_DATA),
    Endpoint("GET", "/api/v1/households/{household_id}", households.read, READS_PERSONAL_DATA),
    Endpoint("PUT", "/api/v1/households/{household_id}", households.replace, frozenset({Role.REGISTRAR})),
    Endpoint("GET", "/api/v1/analytics/summary", analytics.summary, ALL_ROLES),
    Endpoint("GET", "/api/v1/analytics/windows", analytics.windows, ALL_ROLES),
    Endpoint("GET", "/api/v1/outbox/lag", analytics.outbox, frozenset({Role.ADMIN, Role.AUDITOR})),
    Endpoint("GET", "/api/v1/audit", audit.listing, frozenset({Role.AUDITOR})),
    Endpoint("GET", "/api/v1/payments", payments.listing, PAYMENT_READERS),
    Endpoint("GET", "/api/v1/payments/reconciliation", payments.reconciliation, PAYMENT_READERS),
    Endpoint("GET", "/api/v1/payments/{payment_id}", payments.read, PAYMENT_READERS),
    Endpoint("POST", "/api/v1/payments/{payment_id}/cancel", payments.cancel, frozenset({Role.PROGRAM_OFFICER})),
    Endpoint("POST", "/api/v1/payments/{payment_id}/retry", payments.retry, frozenset({Role.PROGRAM_OFFICER})),
    Endpoint("GET", "/api/v1/admin/dlq", dead_letters.listing, frozenset({Role.ADMIN})),
    Endpoint("POST", "/api/v1/admin/dlq/replay", dead_letters.replay_letters, frozenset({Role.ADMIN})),
)


def create_web_app(
    runtime: Runtime,
    verifier: TokenVerifier,
    insecure_bypass: bool = False,
    endpoints: tuple[Endpoint, ...] = ENDPOINTS,
) -> Starlette:
    def served(endpoint: Endpoint) -> Handler:
        handler = endpoint.handler
        if endpoint.roles is not None:
            handler = guarded(handler, endpoint.roles, verifier, insecure_bypass)
        return timed(handler, endpoint.path, endpoint.method)

    routes = [Route(endpoint.path, served(endpoint), methods=[endpoint.method]) for endpoint in endpoints]
    app = Starlette(routes=routes)
    app.state.runtime = runtime
    return app


def web_app_for(settings: Settings) -> Callable[[Runtime], Starlette]:
    """How the worker makes its API from its runtime, authenticated as `settings` say."""
    verifier = verifier_for(settings)
    return lambda runtime: create_web_app(runtime, verifier, insecure_bypass=settings.allow_insecure_local)
