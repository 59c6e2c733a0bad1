"""Local development: a per-machine HS256 secret, and minting tokens with it (`dsrs token issue`)."""

from __future__ import annotations

import os
import secrets
import time
import uuid
from pathlib import Path

import jwt

from dsrs.auth.roles import Role
from dsrs.auth.tokens import JwksVerifier, SecretVerifier, TokenVerifier
from dsrs.settings import Environment, Settings, SettingsError


def local_secret_path(settings: Settings) -> Path:
    return settings.cache_dir / "jwt-secret"


def signing_secret(settings: Settings) -> str:
    """DSRS_JWT_SECRET, or for local work a random secret kept (0600) in the cache directory."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret
    if settings.env not in (Environment.LOCAL, Environment.TEST):
        raise SettingsError(f"no HS256 secret outside local and test (DSRS_ENV={settings.env.value})")
    path = local_secret_path(settings)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def verifier_for(settings: Settings) -> TokenVerifier:
    if settings.jwks_url is not None:
        return JwksVerifier(
            settings.jwks_url, settings.jwt_issuer, settings.jwt_audience, settings.jwks_refresh_seconds
        )
    return SecretVerifier(signing_secret(settings), settings.jwt_issuer, settings.jwt_audience)


def issue_token(settings: Settings, roles: list[Role], ttl_seconds: int, subject: str | None = None) -> str:
    now = int(time.time())
    claims = {
        "sub": subject or f"local-{roles[0].value if roles else 'nobody'}",
        "roles": [role.value for role in roles],
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, signing_secret(settings), algorithm="HS256")
