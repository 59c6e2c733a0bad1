"""The `dsrs` command line on the real stack: clear one-line errors, and a worker that guards its schema."""

from __future__ import annotations

import pytest

from dsrs.settings import Settings
from dsrs_dev.bench.environment import with_database
from dsrs_dev.stack.manager import Stack
from tests.integration.conftest import run_dsrs, settings_env

pytestmark = pytest.mark.integration


def _assert_one_clear_line(stderr: str, *fragments: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_a_malformed_database_url_gives_one_line(settings: Settings) -> None:
    env = {**settings_env(settings), "DSRS_DATABASE_URL": "postgres://nowhere"}
    result = run_dsrs("db", "upgrade", env=env)
    assert result.returncode == 1
    _assert_one_clear_line(result.stderr, "DSRS_DATABASE_URL")


def test_an_unreachable_database_gives_one_line(settings: Settings) -> None:
    env = {**settings_env(settings), "DSRS_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:9/dsrs"}
    result = run_dsrs("db", "upgrade", env=env)
    assert result.returncode == 1
    _assert_one_clear_line(result.stderr, "DSRS_DATABASE_URL", "127.0.0.1:9")


def test_a_worker_refuses_a_database_that_is_behind(stack: Stack, settings: Settings) -> None:
    behind = with_database(settings, "dsrs_test_unmigrated")
    stack.postgres.ensure_database("postgres", "dsrs_test_unmigrated")
    result = run_dsrs("worker", "-l", "info", env=settings_env(behind), timeout=120)
    assert result.returncode == 1
    _assert_one_clear_line(result.stderr, "worker not started", "dsrs db upgrade")


def test_db_upgrade_and_status(migrated: Settings) -> None:
    upgrade = run_dsrs("db", "upgrade", env=settings_env(migrated))
    assert upgrade.returncode == 0, upgrade.stderr
    status = run_dsrs("db", "status", env=settings_env(migrated))
    assert status.returncode == 0, status.stderr
    assert "up to date" in status.stdout


def test_a_worker_refuses_the_insecure_bypass_outside_local(migrated: Settings) -> None:
    env = {
        **settings_env(migrated),
        "DSRS_ENV": "production",
        "DSRS_JWKS_URL": "https://idp.example/.well-known/jwks.json",
        "DSRS_ALLOW_INSECURE_LOCAL": "true",
    }
    result = run_dsrs("worker", "-l", "info", env=env, timeout=120)
    assert result.returncode == 1
    _assert_one_clear_line(result.stderr, "DSRS_ALLOW_INSECURE_LOCAL", "DSRS_ENV=local")


def test_token_issue_mints_a_token_the_worker_would_accept(settings: Settings) -> None:
    import jwt

    result = run_dsrs("token", "issue", "--role", "auditor", "--ttl", "10m", env=settings_env(settings))
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
    assert claims["roles"] == ["auditor"]
    assert claims["exp"] - claims["iat"] == 600
    assert (claims["iss"], claims["aud"]) == (settings.jwt_issuer, settings.jwt_audience)
