"""The process harness of ``notary_runtime.processes`` (ADR 0030), on real child processes."""

from __future__ import annotations

import http.server
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING

import pytest

from notary_runtime.processes import (
    ChildProcess,
    NotReadyError,
    ProcessError,
    free_port,
    http_probe,
    no_proxy_env,
    start_on_free_port,
    stop_process,
    tail_of,
    tcp_probe,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

LISTENER = """
import socket, sys, time
print("listening", flush=True)
with socket.create_server(("127.0.0.1", int(sys.argv[1]))) as sock:
    time.sleep(60)
"""
STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)
time.sleep(60)
"""


class HarnessError(Exception):
    pass


def python(tmp_path: Path, name: str, code: str, *args: object) -> ChildProcess:
    return ChildProcess(
        name, [sys.executable, "-c", code, *map(str, args)], tmp_path / f"{name}.log"
    )


def test_free_port_can_be_bound() -> None:
    port = free_port()
    assert 0 < port < 65536
    with socket.create_server(("127.0.0.1", port)):
        pass


def test_child_started_ready_logged_and_stopped(tmp_path: Path) -> None:
    port = free_port()
    child = python(tmp_path, "listener", LISTENER, port)
    child.start_ready(tcp_probe(port), timeout=20)
    assert child.running
    assert child.pid > 0
    assert child.stop() == -signal.SIGTERM
    assert child.popen is None
    assert child.stop() is None  # stopping twice is harmless
    assert child.log_tail() == "listening\n"


def test_exit_before_ready_raises_the_callers_error_with_the_log(tmp_path: Path) -> None:
    child = python(tmp_path, "early", "print('cannot start'); raise SystemExit(3)")
    child.error = HarnessError
    with pytest.raises(HarnessError, match=r"early exited with status 3:\ncannot start"):
        child.start_ready(tcp_probe(free_port()), timeout=20)
    assert child.popen is None  # stopped (reaped) on the way out


def test_not_ready_in_time_names_the_last_answer_and_stops(tmp_path: Path) -> None:
    child = python(tmp_path, "slow", "import time; time.sleep(60)")

    def never() -> None:
        raise NotReadyError("still warming up")

    with pytest.raises(ProcessError, match=r"slow is not ready after 0\.2s \(still warming up\)"):
        child.start_ready(never, timeout=0.2)
    assert child.popen is None


def test_stop_kills_a_child_that_ignores_sigterm(tmp_path: Path) -> None:
    child = python(tmp_path, "stubborn", STUBBORN)
    child.start()
    child.wait_ready(lambda: None if "ignoring" in child.log_tail() else _not_yet(), timeout=20)
    assert child.stop(timeout=0.5) == -signal.SIGKILL


def test_kill_and_check_running(tmp_path: Path) -> None:
    child = python(tmp_path, "victim", STUBBORN)
    with pytest.raises(ProcessError, match="victim is not running"):
        child.check_running()
    child.start()
    child.check_running()
    assert child.kill() == -signal.SIGKILL
    assert child.kill() is None


def test_log_is_appended_unless_truncated(tmp_path: Path) -> None:
    for truncate, expected in ((False, "once\nonce\n"), (True, "once\n")):
        log = tmp_path / f"{truncate}.log"
        log.unlink(missing_ok=True)
        for _ in range(2):
            child = ChildProcess("p", [sys.executable, "-c", "print('once')"], log)
            child.truncate_log = truncate
            child.start()
            assert child.popen is not None
            child.popen.wait(timeout=20)
        assert tail_of(log) == expected


def _not_yet() -> None:
    raise NotReadyError("not yet")


def test_start_on_free_port_retries_only_a_taken_port() -> None:
    seen: list[int] = []

    def taken_twice(port: int) -> None:
        seen.append(port)
        if len(seen) < 3:
            raise ProcessError("listen tcp: bind: Address already in use")

    assert start_on_free_port(taken_twice) == seen[-1]
    assert len(seen) == 3

    def always_taken(port: int) -> None:
        raise ProcessError(f"cannot listen on 127.0.0.1:{port}: address already in use")

    with pytest.raises(ProcessError, match="address already in use"):
        start_on_free_port(always_taken, attempts=2)

    calls: list[int] = []

    def broken(port: int) -> None:
        calls.append(port)
        raise ProcessError("bad configuration")

    with pytest.raises(ProcessError, match="bad configuration"):
        start_on_free_port(broken)
    assert len(calls) == 1


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_http_probe(http_url: str) -> None:
    http_probe(http_url + "/ok")()
    with pytest.raises(NotReadyError, match="404"):
        http_probe(http_url + "/missing")()
    http_probe(http_url + "/missing", any_status=True)()
    with pytest.raises(OSError, match="refused"):
        http_probe(f"http://127.0.0.1:{free_port()}/")()


def test_environment_and_log_helpers(tmp_path: Path) -> None:
    env = {"PATH": "/bin", "https_proxy": "http://proxy", "ALL_PROXY": "socks://p"}
    assert no_proxy_env(env) == {"PATH": "/bin"}
    assert tail_of(tmp_path / "absent.log") == ""
    (tmp_path / "x.log").write_text("0123456789")
    assert tail_of(tmp_path / "x.log", limit=3) == "789"
    assert stop_process(None) is None
