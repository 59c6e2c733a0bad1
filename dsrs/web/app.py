"""Assembles the Starlette application from its route modules."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from dsrs.settings import Settings
from dsrs.web import health


def create_web_app(settings: Settings) -> Starlette:
    routes = [
        Route("/health/live", health.live, methods=["GET"]),
        Route("/health/ready", health.ready, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.settings = settings
    return app
