"""The stack's process handling, on a real child process: Python's own HTTP server."""

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsrs_dev.stack.component import Component, StackError, pid_alive


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HttpServer(Component):
    name = "http"
    start_timeout_seconds = 20.0

    def __init__(self, cache_dir: Path, port: int, args: list[str] | None = None) -> None:
        super().__init__(cache_dir, port)
        self.args = args
        self.installs = 0

    def install(self) -> None:
        self.installs += 1

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return self.args or [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(self.port)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[HttpServer]:
    component = HttpServer(tmp_path, free_port())
    yield component
    component.stop()


def test_start_is_idempotent_and_stop_leaves_no_process(server: HttpServer) -> None:
    assert server.start() is True
    pid = server.read_pid()
    assert pid is not None
    assert server.status().healthy

    assert server.start() is False
    assert server.read_pid() == pid

    assert server.stop() is True
    assert not pid_alive(pid)
    assert server.status().pid is None
    assert server.stop() is False


def test_a_port_taken_by_a_stranger_is_refused(tmp_path: Path) -> None:
    port = free_port()
    stranger = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)])
    try:
        component = HttpServer(tmp_path, port)
        component.wait_healthy()
        with pytest.raises(StackError, match="taken by a process this stack did not start"):
            component.start()
        assert stranger.poll() is None
    finally:
        stranger.terminate()
        stranger.wait()


def test_a_server_that_dies_while_starting_is_reported_with_its_log(tmp_path: Path) -> None:
    component = HttpServer(tmp_path, free_port(), args=[sys.executable, "-c", "print('no luck'); raise SystemExit(3)"])
    with pytest.raises(StackError, match=r"exited with 3 .*http\.log"):
        component.start()
    assert "no luck" in component.log_path.read_text()
    assert component.read_pid() is None


def test_a_failed_install_step_names_the_command(server: HttpServer) -> None:
    with pytest.raises(StackError, match="false"):
        server.run_step(["false"])
