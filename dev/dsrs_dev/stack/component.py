"""One local server of the stack: how it is installed, started, checked and stopped.

Each concrete server only says how to install itself, how to prepare its data folder,
which foreground command runs it and how to tell it is healthy. Starting it in the
background, the pid file, the log file and stopping it are the same for all of them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path


class StackError(RuntimeError):
    """A server of the local stack could not be installed, started or stopped."""


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    port: int
    pid: int | None
    healthy: bool
    log_path: Path


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is not running.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


class Component(ABC):
    """A server owned by the stack, living under one cache directory."""

    name: str
    start_timeout_seconds: float = 120.0
    stop_signal: signal.Signals = signal.SIGTERM

    def __init__(self, cache_dir: Path, port: int) -> None:
        self.cache_dir = cache_dir
        self.port = port

    @property
    def dist_dir(self) -> Path:
        """Where the installed binaries or jars live; shared by every data folder."""
        return self.cache_dir / "dist" / self.name

    @property
    def data_dir(self) -> Path:
        return self.cache_dir / "data" / self.name

    @property
    def log_path(self) -> Path:
        return self.cache_dir / "logs" / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.cache_dir / "run" / f"{self.name}.pid"

    @abstractmethod
    def install(self) -> None:
        """Download or build the server once; a no-op when it is already there."""

    @abstractmethod
    def prepare(self) -> None:
        """Initialise the data folder once; a no-op when it is already initialised."""

    @abstractmethod
    def command(self) -> list[str]:
        """The foreground command that runs the server until it is signalled."""

    def environment(self) -> dict[str, str]:
        return {}

    def is_healthy(self) -> bool:
        return port_open(self.port)

    def run_step(self, args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        """Run an install or prepare step, keeping its output in the log for diagnosis."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n$ {' '.join(args)}\n".encode())
            log.flush()
            result = subprocess.run(
                args,
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        if result.returncode != 0:
            raise StackError(f"{self.name}: `{' '.join(args)}` failed (exit {result.returncode}); see {self.log_path}")

    def read_pid(self) -> int | None:
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def status(self) -> ComponentStatus:
        pid = self.read_pid()
        return ComponentStatus(self.name, self.port, pid, pid is not None and self.is_healthy(), self.log_path)

    def start(self) -> bool:
        """Start the server unless ours already runs; True when this call started it."""
        process = self.launch()
        if process is None:
            self.wait_healthy()
            return False
        try:
            self.wait_healthy(process)
        except StackError:
            self.stop()
            raise
        return True

    def launch(self) -> subprocess.Popen[bytes] | None:
        """Start the server in the background without waiting for it; None when ours already runs.

        Servers that only become healthy together (a Kafka controller quorum) are launched first, then waited for.
        """
        if self.read_pid() is not None:
            return None
        if port_open(self.port):
            raise StackError(f"{self.name}: port {self.port} is taken by a process this stack did not start")
        self.install()
        self.prepare()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                self.command(),
                env={**os.environ, **self.environment()},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own session, so that Ctrl-C in the caller's terminal does not reach it
                # and `down` can stop the whole process group.
                start_new_session=True,
            )
        self.pid_path.write_text(str(process.pid))
        return process

    def wait_healthy(self, process: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + self.start_timeout_seconds
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise StackError(f"{self.name} exited with {process.returncode} while starting; see {self.log_path}")
            if self.is_healthy():
                return
            time.sleep(0.25)
        raise StackError(f"{self.name} was not healthy after {self.start_timeout_seconds:.0f}s; see {self.log_path}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the server this stack started; True when there was one to stop."""
        pid = self.read_pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return False
        self._signal_group(pid, self.stop_signal)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(pid):
            self._signal_group(pid, signal.SIGKILL)
            while pid_alive(pid):
                time.sleep(0.1)
        self._reap(pid)
        self.pid_path.unlink(missing_ok=True)
        return True

    @staticmethod
    def _reap(pid: int) -> None:
        """Collect the exit status when the server was started by this very process, so no zombie stays."""
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)

    @staticmethod
    def _signal_group(pid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)
