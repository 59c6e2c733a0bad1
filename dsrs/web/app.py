"""Assembles the Starlette application: every route, and the roles that may call it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dsrs.auth.local import verifier_for
from dsrs.auth.roles import ALL_ROLES, READS_PERSONAL_DATA, Role
from dsrs.auth.tokens import TokenVerifier
from dsrs.settings import Settings
from dsrs.web import (
    analytics,
    assessments,
    audit,
    cycles,
    dci,
    dead_letters,
    duplicates,
    g2p,
    health,
    household_status,
    households,
    metrics,
    openapi,
    payments,
    programs,
    ui,
)
from dsrs.web.metrics import timed
from dsrs.web.params import plain_query
from dsrs.web.responses import error
from dsrs.web.schemas import Operation
from dsrs.web.security import Handler, guarded
from dsrs.worker.runtime import Runtime

PAYMENT_READERS = frozenset({Role.PROGRAM_OFFICER, Role.AUDITOR})
PROGRAM_WRITERS = frozenset({Role.PROGRAM_OFFICER, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})
REGISTRARS = frozenset({Role.REGISTRAR})
OFFICERS = frozenset({Role.PROGRAM_OFFICER})
DUPLICATE_REVIEWERS = frozenset({Role.REGISTRAR, Role.PROGRAM_OFFICER})
# Programs' systems subscribe to the registry's events; operators may too, and get no personal data.
DCI_SUBSCRIBERS = frozenset({Role.PROGRAM_OFFICER, Role.ADMIN})


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    roles: frozenset[Role] | None  # None: public (health probes, the live page's static files)
    # What the OpenAPI document says of it; None only in the stand-in tables of tests.
    operation: Operation | None = None


ENDPOINTS = (
    Endpoint("GET", "/health/live", health.live, None, health.LIVE),
    Endpoint("GET", "/health/ready", health.ready, None, health.READY),
    Endpoint("GET", "/openapi.json", openapi.serve, None, openapi.SERVE),
    # The live page's static files hold no data: the page calls the API with the viewer's token.
    Endpoint("GET", "/", ui.home, None, ui.HOME),
    Endpoint("GET", "/ui/", ui.page, None, ui.PAGE),
    Endpoint("GET", "/ui/{name}", ui.asset, None, ui.ASSET),
    Endpoint("GET", "/metrics", metrics.scrape, ADMINS, metrics.SCRAPE),
    Endpoint("POST", "/api/v1/households", households.create, REGISTRARS, households.CREATE),
    Endpoint("GET", "/api/v1/households", households.listing, READS_PERSONAL_DATA, households.LISTING),
    Endpoint("GET", "/api/v1/households/{household_id}", households.read, READS_PERSONAL_DATA, households.READ),
    Endpoint("PUT", "/api/v1/households/{household_id}", households.replace, REGISTRARS, households.REPLACE),
    Endpoint(
        "POST",
        "/api/v1/households/{household_id}/deactivate",
        household_status.deactivate_household,
        REGISTRARS,
        household_status.DEACTIVATE,
    ),
    Endpoint(
        "POST",
        "/api/v1/households/{household_id}/reactivate",
        household_status.reactivate_household,
        REGISTRARS,
        household_status.REACTIVATE,
    ),
    Endpoint(
        "GET",
        "/api/v1/households/{household_id}/assessments",
        assessments.of_household,
        READS_PERSONAL_DATA,
        assessments.OF_HOUSEHOLD,
    ),
    Endpoint(
        "GET",
        "/api/v1/assessments/{assessment_id}/explain",
        assessments.explain,
        READS_PERSONAL_DATA,
        assessments.EXPLAIN,
    ),
    Endpoint("GET", "/api/v1/duplicates", duplicates.listing, READS_PERSONAL_DATA, duplicates.LISTING),
    Endpoint(
        "POST", "/api/v1/duplicates/{pair_id}/merge", duplicates.merge_pair, DUPLICATE_REVIEWERS, duplicates.MERGE
    ),
    Endpoint(
        "POST", "/api/v1/duplicates/{pair_id}/dismiss", duplicates.dismiss_pair, DUPLICATE_REVIEWERS, duplicates.DISMISS
    ),
    Endpoint("GET", "/api/v1/analytics/summary", analytics.summary, ALL_ROLES, analytics.SUMMARY),
    Endpoint("GET", "/api/v1/analytics/windows", analytics.windows, ALL_ROLES, analytics.WINDOWS),
    Endpoint("GET", "/api/v1/analytics/registry", analytics.registry, ALL_ROLES, analytics.REGISTRY),
    Endpoint("GET", "/api/v1/outbox/lag", analytics.outbox, frozenset({Role.ADMIN, Role.AUDITOR}), analytics.OUTBOX),
    Endpoint("GET", "/api/v1/audit", audit.listing, frozenset({Role.AUDITOR}), audit.LISTING),
    Endpoint("GET", "/api/v1/payments", payments.listing, PAYMENT_READERS, payments.LISTING),
    Endpoint(
        "GET", "/api/v1/payments/reconciliation", payments.reconciliation, PAYMENT_READERS, payments.RECONCILIATION
    ),
    Endpoint("GET", "/api/v1/payments/{payment_id}", payments.read, PAYMENT_READERS, payments.READ),
    Endpoint("POST", "/api/v1/payments/{payment_id}/cancel", payments.cancel, OFFICERS, payments.CANCEL),
    Endpoint("POST", "/api/v1/payments/{payment_id}/retry", payments.retry, OFFICERS, payments.RETRY),
    Endpoint("POST", "/api/v1/programs", programs.create, PROGRAM_WRITERS, programs.CREATE),
    Endpoint("GET", "/api/v1/programs", programs.listing, ALL_ROLES, programs.LISTING),
    Endpoint(
        "GET", "/api/v1/programs/{program_id}/versions/{version}", programs.version, ALL_ROLES, programs.READ_VERSION
    ),
    Endpoint("POST", "/api/v1/programs/{program_id}/retire", programs.retire_program, PROGRAM_WRITERS, programs.RETIRE),
    Endpoint(
        "GET", "/api/v1/programs/{program_id}/reassessments", programs.reassessments, ALL_ROLES, programs.REASSESSMENTS
    ),
    Endpoint(
        "GET",
        "/api/v1/programs/{program_id}/reassessments/{job_id}",
        programs.reassessment,
        ALL_ROLES,
        programs.REASSESSMENT,
    ),
    Endpoint("GET", "/api/v1/programs/{program_id}/cycles", cycles.listing, PAYMENT_READERS, cycles.LISTING),
    Endpoint("GET", "/api/v1/programs/{program_id}/cycles/{cycle}", cycles.read, PAYMENT_READERS, cycles.READ),
    # The payment provider's callback: its own bearer token, checked by the handler (dsrs.web.g2p).
    Endpoint("POST", "/api/v1/g2p/disbursement/on-disburse", g2p.on_disburse, None, g2p.ON_DISBURSE),
    # The DCI Social Registry API (docs/dci.md): personal fields only for roles that read personal data.
    Endpoint("POST", "/dci/registry/sync/search", dci.sync_search, ALL_ROLES, dci.SYNC_SEARCH),
    Endpoint("POST", "/dci/registry/search", dci.search, ALL_ROLES, dci.SEARCH),
    Endpoint("POST", "/dci/registry/subscribe", dci.subscribe, DCI_SUBSCRIBERS, dci.SUBSCRIBE),
    Endpoint("POST", "/dci/registry/unsubscribe", dci.unsubscribe, DCI_SUBSCRIBERS, dci.UNSUBSCRIBE),
    Endpoint("POST", "/dci/registry/sync/txn/status", dci.sync_status, ALL_ROLES, dci.SYNC_STATUS),
    Endpoint("POST", "/dci/registry/txn/status", dci.status, ALL_ROLES, dci.STATUS),
    Endpoint("GET", "/api/v1/admin/dlq", dead_letters.listing, ADMINS, dead_letters.LISTING),
    Endpoint("POST", "/api/v1/admin/dlq/replay", dead_letters.replay_letters, ADMINS, dead_letters.REPLAY),
)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own answers (404 for an unknown path, 405 for a method a route lacks) in the API's shape."""
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, exc.detail.lower(), headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    # Starlette still logs the exception; the client gets the error shape and no detail.
    return error(500, "internal server error")


EXCEPTION_HANDLERS = {HTTPException: _http_error, Exception: _server_error}


def _route(path: str, handlers: dict[str, Handler]) -> Route:
    """One route per path, so that a 405 lists every method the path has, not one route's."""

    async def dispatch(request: Request) -> Response:
        # Starlette answers HEAD with the GET handler.
        return await handlers["GET" if request.method == "HEAD" else request.method](request)

    return Route(path, dispatch, methods=list(handlers))


def create_web_app(
    runtime: Runtime,
    verifier: TokenVerifier,
    insecure_bypass: bool = False,
    endpoints: tuple[Endpoint, ...] = ENDPOINTS,
) -> Starlette:
    def served(endpoint: Endpoint) -> Handler:
        handler = plain_query(endpoint.handler)
        if endpoint.roles is not None:
            handler = guarded(handler, endpoint.roles, verifier, insecure_bypass)
        return timed(handler, endpoint.path, endpoint.method)

    by_path: dict[str, dict[str, Handler]] = {}
    for endpoint in endpoints:
        by_path.setdefault(endpoint.path, {})[endpoint.method] = served(endpoint)
    routes = [_route(path, handlers) for path, handlers in by_path.items()]
    app = Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS)
    app.state.runtime = runtime
    app.state.openapi = openapi.build_document(endpoints)
    return app


def web_app_for(settings: Settings) -> Callable[[Runtime], Starlette]:
    """How the worker makes its API from its runtime, authenticated as `settings` say."""
    verifier = verifier_for(settings)
    return lambda runtime: create_web_app(runtime, verifier, insecure_bypass=settings.allow_insecure_local)
