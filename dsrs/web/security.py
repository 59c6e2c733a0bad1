"""Bearer-token checks in front of every route that is not a health probe: 401 without a valid
token, 403 when the token's roles do not include one the route allows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from dsrs.auth.roles import ALL_ROLES, Role
from dsrs.auth.tokens import InvalidToken, Principal, TokenVerifier
from dsrs.web.responses import error

Handler = Callable[[Request], Awaitable[Response]]

# The development bypass (DSRS_ALLOW_INSECURE_LOCAL, honoured only with DSRS_ENV=local) acts as this.
LOCAL_DEVELOPER = Principal("local-developer (insecure bypass)", ALL_ROLES)


def _unauthorized(reason: str) -> Response:
    response = error(401, reason)
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def principal_of(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


def guarded(handler: Handler, roles: frozenset[Role], verifier: TokenVerifier, bypass: bool) -> Handler:
    async def guard(request: Request) -> Response:
        if bypass:
            principal = LOCAL_DEVELOPER
        else:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return _unauthorized("a bearer token is required")
            try:
                principal = await verifier.verify(token.strip())
            except InvalidToken as invalid:
                return _unauthorized(str(invalid))
        if not principal.roles & roles:
            return error(403, "your role may not do this", allowed_roles=sorted(role.value for role in roles))
        request.state.principal = principal
        return await handler(request)

    guard.__name__ = getattr(handler, "__name__", "guarded")
    return guard
