"""Verifying bearer tokens: signature, algorithm, expiry, not-before, issuer and audience.

Each verifier accepts only its own algorithms, so `alg: none` and algorithm confusion (an HS256
token signed with a public RSA key as its secret, say) are refused before any key is used.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import jwt

from dsrs.auth.roles import Role

log = logging.getLogger(__name__)

SECRET_ALGORITHMS = ("HS256",)
JWKS_ALGORITHMS = ("RS256", "ES256")
REQUIRED_CLAIMS = ("exp", "iat", "iss", "aud", "sub")


class InvalidToken(Exception):
    """The request is not authenticated: a 401. The message says why, without echoing the token."""


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal: ...


def _principal(claims: dict[str, Any]) -> Principal:
    raw = claims.get("roles", claims.get("role", []))
    names = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
    roles = frozenset(Role(name) for name in names if name in Role._value2member_map_)
    return Principal(str(claims["sub"]), roles)


# Most specific first: several of these are subclasses of InvalidTokenError.
_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is for another audience"),
    (jwt.InvalidIssuerError, "the token is from another issuer"),
    (jwt.InvalidAlgorithmError, "the token's algorithm is not accepted"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
)


def _decode(token: str, key: Any, algorithms: tuple[str, ...], issuer: str, audience: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=list(algorithms),
            issuer=issuer,
            audience=audience,
            options={"require": list(REQUIRED_CLAIMS)},
            leeway=5,
        )
    except jwt.PyJWTError as error:
        reason = next((text for kind, text in _REASONS if isinstance(error, kind)), None)
        raise InvalidToken(reason or f"the token is not valid: {type(error).__name__}") from None
    return _principal(claims)


def _header(token: str) -> dict[str, Any]:
    try:
        return dict(jwt.get_unverified_header(token))
    except jwt.PyJWTError:
        raise InvalidToken("the token is malformed") from None


class SecretVerifier:
    """HS256 with a shared secret: local development and tests."""

    def __init__(self, secret: str, issuer: str, audience: str) -> None:
        self.secret = secret
        self.issuer = issuer
        self.audience = audience

    async def verify(self, token: str) -> Principal:
        if _header(token).get("alg") not in SECRET_ALGORITHMS:
            raise InvalidToken("the token's algorithm is not accepted")
        return _decode(token, self.secret, SECRET_ALGORITHMS, self.issuer, self.audience)


class JwksVerifier:
    """RS256 / ES256 keys from the identity provider's JWKS URL.

    Keys are fetched with an async client and cached; they are refreshed in the background every
    `refresh_seconds`, and at once (at most every 10 seconds) when a token names an unknown key id,
    which is how a key rotation shows itself. The event loop never waits on a blocking fetch.
    """

    def __init__(self, url: str, issuer: str, audience: str, refresh_seconds: float = 300.0) -> None:
        self.url = url
        self.issuer = issuer
        self.audience = audience
        self.refresh_seconds = refresh_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock: asyncio.Lock | None = None

    async def _refresh(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            timeout = aiohttp.ClientTimeout(total=5.0)
            async with aiohttp.ClientSession(timeout=timeout) as session, session.get(self.url) as response:
                response.raise_for_status()
                document = await response.json(content_type=None)
            keys = {}
            for entry in document.get("keys", []):
                if entry.get("alg", "RS256") in JWKS_ALGORITHMS and "kid" in entry:
                    keys[entry["kid"]] = jwt.PyJWK(entry)
            self._keys = keys
            self._fetched_at = time.monotonic()

    async def _key(self, kid: str) -> jwt.PyJWK:
        stale = time.monotonic() - self._fetched_at > self.refresh_seconds
        unknown = kid not in self._keys and time.monotonic() - self._fetched_at > 10
        if stale or unknown:
            try:
                await self._refresh()
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                log.warning("JWKS refresh failed (%s); using the cached keys", type(error).__name__)
        try:
            return self._keys[kid]
        except KeyError:
            raise InvalidToken("the token is signed with an unknown key") from None

    async def verify(self, token: str) -> Principal:
        header = _header(token)
        if header.get("alg") not in JWKS_ALGORITHMS:
            raise InvalidToken("the token's algorithm is not accepted")
        key = await self._key(str(header.get("kid", "")))
        if key.algorithm_name != header["alg"]:
            raise InvalidToken("the token's algorithm does not match its key")
        return _decode(token, key.key, (header["alg"],), self.issuer, self.audience)
