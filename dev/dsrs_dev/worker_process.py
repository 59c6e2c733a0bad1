"""A DSRS worker in a child process: started, awaited until its API answers, and stopped cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from dsrs.settings import Settings


class WorkerFailed(RuntimeError):
    """The worker exited or never became ready."""


def _dsrs_executable() -> list[str]:
    script = Path(sys.executable).parent / "dsrs"
    return [str(script)] if script.exists() else [sys.executable, "-m", "faust_app"]


def worker_env(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that makes a child `dsrs` process use these settings."""
    values = {
        "DSRS_KAFKA_URL": settings.kafka_url,
        "DSRS_DATABASE_URL": settings.database_url,
        "DSRS_MONGO_URL": settings.mongo_url,
        "DSRS_MONGO_DATABASE": settings.mongo_database,
        "DSRS_CACHE_DIR": str(settings.cache_dir),
        "DSRS_WEB_PORT": str(settings.web_port),
        "DSRS_ENV": settings.env.value,
        "DSRS_TOPIC_PREFIX": settings.topic_prefix,
        "DSRS_APP_ID": settings.app_id,
        "DSRS_DATA_DIR": str(settings.worker_data_dir),
        "DSRS_TOPIC_PARTITIONS": str(settings.topic_partitions),
    }
    if settings.jwt_secret is not None:
        values["DSRS_JWT_SECRET"] = settings.jwt_secret
    if settings.database_socket_dir is not None:
        values["DSRS_DATABASE_SOCKET_DIR"] = str(settings.database_socket_dir)
    if settings.topic_replication_factor is not None:
        values["DSRS_TOPIC_REPLICATION_FACTOR"] = str(settings.topic_replication_factor)
    return {**values, **(extra or {})}


class WorkerProcess:
    def __init__(self, settings: Settings, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.log_path = log_path
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise WorkerFailed("the worker was not started")
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*_dsrs_executable(), "worker", "--loglevel", self.settings.log_level],
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Ctrl-C in the terminal goes to us; we stop the worker ourselves, in order.
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Wait until the worker has recovered its tables and serves its API."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise WorkerFailed(f"the worker exited while starting; see {self.log_path}{self._log_tail()}")
            try:
                # The URL is built from our own settings, always http://.
                with urllib.request.urlopen(f"{self.base_url}/health/ready", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        raise WorkerFailed(f"the worker was not ready after {timeout:.0f}s; see {self.log_path}{self._log_tail()}")

    def _log_tail(self, lines: int = 20) -> str:
        # The log may live in a temporary folder that is gone by the time anyone reads the message.
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "; it ended with:\n" + "\n".join(tail) if tail else ""

    def stop(self, timeout: float = 60.0) -> int | None:
        """Ask the worker to shut down (SIGTERM commits and leaves the group), then wait for it."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no commit, no clean leave."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
