"""Child processes on loopback: a free port, start, wait until ready, the log, stop.

The one copy (ADR 0030) of what ``make run``'s launcher (``scripts/run_embedded.py``),
the tests' harnesses (``testkit/``, ``tests/``) and the benchmarks (``bench/``) do
with the services and the other programs they run:

* :func:`free_port`: a loopback port that was free a moment ago, and
  :func:`start_on_free_port`, which takes another when a child finds it taken;
* :class:`ChildProcess`: an argv with its output in a log file, started, waited
  for until a probe passes (or it exits, or time runs out), then stopped
  (SIGTERM, then SIGKILL after a bound); :func:`stop_process` for a bare ``Popen``;
* probes: :func:`tcp_probe` (something listens) and :func:`http_probe` (a GET
  answers); a gRPC health probe belongs to the caller (this package imports no gRPC);
* :func:`no_proxy_env` (everything here is loopback) and :func:`tail_of` (a log's end).

Errors are the caller's: :class:`ChildProcess` raises what its ``error`` factory
builds (:class:`ProcessError` by default), as the rest of ``notary_runtime`` does
(ADR 0013). Nothing here runs at import time.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from os import PathLike
    from pathlib import Path

    from notary_runtime import ErrorFactory

__all__ = [
    "LOOPBACK",
    "ChildProcess",
    "NotReadyError",
    "Probe",
    "ProcessError",
    "free_port",
    "http_probe",
    "no_proxy_env",
    "start_on_free_port",
    "stop_process",
    "tail_of",
    "tcp_probe",
]

LOOPBACK: Final = "127.0.0.1"
PROXY_VARIABLES: Final = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
)
PORT_TAKEN: Final = "address already in use"
"""What a child that could not bind says (Go's and ours, ADR 0025); :func:`start_on_free_port`."""
STOP_TIMEOUT: Final = 10.0

Probe = Callable[[], None]
"""Returns once the process is ready; raises :class:`NotReadyError` (or ``OSError``) until then."""


class ProcessError(Exception):
    """A child process exited, or was not ready in time (:class:`ChildProcess`'s default)."""


class NotReadyError(Exception):
    """A probe's "not yet"; the message says what it saw."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on ``host`` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def start_on_free_port(start: Callable[[int], None], *, attempts: int = 3) -> int:
    """Call ``start(port)`` with a free port; return the port it started on.

    Another program may take the port between :func:`free_port` and the child's
    bind. When ``start`` fails with an exception whose message says ``address
    already in use`` (a :class:`ChildProcess` error carries the log's end), it is
    called again with another port, up to ``attempts`` times in all; any other
    failure, and the last attempt's, propagates.
    """
    for _ in range(attempts - 1):
        port = free_port()
        try:
            start(port)
        except Exception as e:
            if PORT_TAKEN not in str(e).lower():
                raise
        else:
            return port
    port = free_port()
    start(port)
    return port


def no_proxy_env(base: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``base`` without proxy variables (everything here is loopback)."""
    return {k: v for k, v in base.items() if k not in PROXY_VARIABLES}


def tail_of(path: Path, limit: int = 4000) -> str:
    """The last ``limit`` characters of a log file, or ``""`` if it cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-limit:]


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = STOP_TIMEOUT) -> int | None:
    """Terminate ``proc``, killing it if it outlives ``timeout``; return its exit status.

    None when there was no process. A process that already exited is left as it is.
    """
    if proc is None:
        return None
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    return proc.returncode


def tcp_probe(port: int, host: str = LOOPBACK, timeout: float = 1.0) -> Probe:
    """A probe: a TCP connection to ``host:port`` is accepted."""

    def probe() -> None:
        with socket.create_connection((host, port), timeout=timeout):
            pass

    return probe


def http_probe(
    url: str,
    *,
    context: ssl.SSLContext | None = None,
    any_status: bool = False,
    timeout: float = 3.0,
) -> Probe:
    """A probe: ``GET url`` (no proxy) answers 200, or anything at all with ``any_status``.

    ``context`` is the client TLS context for an ``https`` URL.
    """
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if context is not None:
        handlers.append(urllib.request.HTTPSHandler(context=context))
    opener = urllib.request.build_opener(*handlers)

    def probe() -> None:
        try:
            with opener.open(url, timeout=timeout) as response:
                status = response.status
        except urllib.error.HTTPError as e:
            e.close()
            status = e.code
        if status != HTTPStatus.OK and not any_status:
            raise NotReadyError(f"GET {url}: {status}")

    return probe


@dataclass
class ChildProcess:
    """One child process whose stdout and stderr go to ``log_path``.

    ``env``: its whole environment (None: this process's); ``new_session``: its
    own session, so a Ctrl-C on the terminal reaches only the parent, which stops
    it; ``truncate_log``: the log is written over at each start, else appended to.
    """

    name: str
    argv: Sequence[str | PathLike[str]]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    new_session: bool = False
    truncate_log: bool = False
    error: ErrorFactory = ProcessError
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start the process (no stdin); return at once."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb" if self.truncate_log else "ab") as log:
            self.popen = subprocess.Popen(  # noqa: S603 - the caller's own argv, no shell
                [str(arg) for arg in self.argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=dict(self.env) if self.env is not None else None,
                start_new_session=self.new_session,
            )

    def wait_ready(
        self,
        probe: Probe,
        timeout: float,
        *,
        interval: float = 0.1,
        retry_on: tuple[type[BaseException], ...] = (NotReadyError, OSError),
    ) -> None:
        """Poll ``probe`` until it passes; an exception in ``retry_on`` means "not yet".

        Raises:
            Exception: built by ``error``: the process exited, or ``timeout`` passed;
                the message ends with the log's tail.
        """
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            self.check_running()
            try:
                probe()
            except retry_on as e:
                last = str(e) or repr(e)
            else:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        msg = f"{self.name} is not ready after {timeout:g}s ({last}):\n{self.log_tail()}"
        raise self.error(msg)

    def start_ready(
        self,
        probe: Probe,
        timeout: float,
        *,
        interval: float = 0.1,
        retry_on: tuple[type[BaseException], ...] = (NotReadyError, OSError),
    ) -> None:
        """:meth:`start`, then :meth:`wait_ready`; stopped again if that fails."""
        self.start()
        try:
            self.wait_ready(probe, timeout, interval=interval, retry_on=retry_on)
        except BaseException:
            self.stop()
            raise

    def check_running(self) -> None:
        """Raise (``error``) unless the process was started and has not exited."""
        if self.popen is None:
            raise self.error(f"{self.name} is not running")
        status = self.popen.poll()
        if status is not None:
            raise self.error(f"{self.name} exited with status {status}:\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int:
        """The process ID; raises (``error``) before :meth:`start`."""
        if self.popen is None:
            raise self.error(f"{self.name} is not running")
        return self.popen.pid

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; the exit status (None: never started)."""
        popen, self.popen = self.popen, None
        return stop_process(popen, timeout)

    def kill(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGKILL (no graceful shutdown) and reap; the exit status (None: never started)."""
        popen, self.popen = self.popen, None
        if popen is None:
            return None
        if popen.poll() is None:
            popen.kill()
            popen.wait(timeout=timeout)
        return popen.returncode

    def log_tail(self, limit: int = 4000) -> str:
        """The end of the process's output so far."""
        return tail_of(self.log_path, limit)
