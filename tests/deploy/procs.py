"""Processes for the deployment tests: any service command, started and probed on loopback.

:class:`Service` runs an argv with its output in a log file, waits (bounded) for a
probe to pass and stops it (SIGTERM, then SIGKILL), as a ``notary_runtime.processes``
child (ADR 0030). The probes check a server's
``/_notary_server/health`` over HTTPS and a signer's gRPC health over mutual TLS;
they work for the Go binaries and for ours alike.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from notary_runtime.processes import (
    ChildProcess,
    NotReadyError,
    Probe,
    http_probe,
    no_proxy_env,
    tail_of,
)
from testkit.gotools import GoToolError

__all__ = [
    "REPO",
    "SCRIPTS",
    "Service",
    "https_health",
    "python_module",
    "run_checked",
    "signer_health",
]

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
SIGNER_HEALTH_NAMES = ("grpc.health.v1.Health.KeyManagement", "grpc.health.v1.Health.Signer")


def https_health(url: str, ca: Path) -> Probe:
    """A probe: ``GET url/_notary_server/health`` answers 200, trusting ``ca``."""
    context = ssl.create_default_context(cafile=str(ca))
    return http_probe(url + "/_notary_server/health", context=context)


def signer_health(port: int, *, ca: Path, cert: Path, key: Path) -> Probe:
    """A probe: both of Go's health names are SERVING on ``127.0.0.1:port`` (mutual TLS)."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes(),
        certificate_chain=cert.read_bytes(),
    )

    def probe() -> None:
        with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            for name in SIGNER_HEALTH_NAMES:
                try:
                    reply = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=2)
                except grpc.RpcError as e:
                    raise NotReadyError(repr(e)) from e
                if reply.status != health_pb2.HealthCheckResponse.SERVING:
                    raise NotReadyError(f"{name} not serving")

    return probe


def run_checked(
    argv: Sequence[str | Path], *, env: Mapping[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; raise :class:`GoToolError` with its output on failure."""
    try:
        proc = subprocess.run(
            [str(a) for a in argv],
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise GoToolError(f"timed out after {timeout}s: {argv}") from e
    if proc.returncode != 0:
        raise GoToolError(f"{argv} exited with {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def python_module(module: str, *args: str | Path) -> list[str]:
    """``python -m MODULE ARGS`` with this interpreter."""
    return [sys.executable, "-m", module, *map(str, args)]


@dataclass
class Service:
    """One service process; a context manager that starts it and waits for ``probe``.

    The environment is ours without proxies, plus :attr:`env`; the log is appended to.
    """

    name: str
    argv: Sequence[str | Path]
    probe: Probe
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    startup_timeout: float = 30.0
    _process: ChildProcess | None = field(default=None, repr=False)

    def __enter__(self) -> Self:
        """Start the process and wait until the probe passes."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the process."""
        self.stop()

    def start(self) -> None:
        """Start and wait for health.

        Raises:
            GoToolError: the process exited or stayed unhealthy.
        """
        environment = no_proxy_env(os.environ) | dict(self.env)
        self._process = ChildProcess(
            self.name, self.argv, self.log_path, env=environment, cwd=self.cwd, error=GoToolError
        )
        self._process.start_ready(self.probe, self.startup_timeout, interval=0.2)

    def stop(self, timeout: float = 10.0) -> int | None:
        """Terminate, then kill after ``timeout``; return the exit status."""
        process, self._process = self._process, None
        return process.stop(timeout) if process is not None else None

    @property
    def log(self) -> str:
        """The end of the process's output."""
        return tail_of(self.log_path, limit=6000)
