import ssl
from pathlib import Path

import pytest

from dsrs.db.engine import connect_args, describe_connection_error
from dsrs.settings import load_settings


def test_tcp_by_default_with_tls_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert connect_args(load_settings()) == {}
    monkeypatch.setenv("DSRS_DATABASE_SSL", "require")
    assert isinstance(connect_args(load_settings())["ssl"], ssl.SSLContext)


def test_a_socket_folder_becomes_asyncpgs_host_and_names_the_socket_in_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DSRS_DATABASE_SOCKET_DIR", str(tmp_path))
    settings = load_settings()
    assert connect_args(settings) == {"host": str(tmp_path)}
    message = describe_connection_error(settings, FileNotFoundError("no such file"))
    port = settings.database_address[1]
    assert message.startswith(f"cannot use PostgreSQL at {tmp_path}/.s.PGSQL.{port} (DSRS_DATABASE_SOCKET_DIR)")
