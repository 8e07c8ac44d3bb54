"""Run a signer (the Go ``/usr/bin/notary-signer`` or ours) as a process on loopback.

Both are started from a ``signer-config.json`` and waited for through the gRPC
health service, over mutual TLS, with our generated stubs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.ci import missing_real_part
from tests.gotools import (
    NOTARY_SIGNER_BIN,
    GoToolError,
    free_port,
    no_proxy_env,
    stop_process,
    tail_of,
)
from tests.signer.conftest import TLSFiles

HEALTH_NAMES = ("grpc.health.v1.Health.KeyManagement", "grpc.health.v1.Health.Signer")


def require_go_signer() -> None:
    if os.access(NOTARY_SIGNER_BIN, os.X_OK):
        return
    reason = f"{NOTARY_SIGNER_BIN} missing; apt-get install -y notary"
    missing_real_part(reason)


def sync_channel(tls: TLSFiles, port: int) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(
        root_certificates=tls.ca_pem,
        private_key=tls.client.key,
        certificate_chain=tls.client.cert,
    )
    return grpc.secure_channel(f"127.0.0.1:{port}", creds)


@dataclass
class SignerProcess:
    """A signer process; ``go=True`` runs the Go binary, else ``python -m notary_signer``."""

    workdir: Path
    tls: TLSFiles
    storage: dict[str, Any]
    env: dict[str, str]
    go: bool = True
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / ("go-signer.log" if self.go else "py-signer.log")

    @property
    def config_path(self) -> Path:
        return self.workdir / "signer-config.json"

    def argv(self) -> list[str]:
        if self.go:
            return [str(NOTARY_SIGNER_BIN), "-config", str(self.config_path)]
        return [sys.executable, "-m", "notary_signer", "--config", str(self.config_path)]

    def __enter__(self) -> Self:
        self.start()
        return self

    def start(self) -> None:
        """Write the config, start the process and wait (bounded) until both services serve.

        A restart (after :meth:`stop` or :meth:`kill`) keeps the port, so a server
        configured with it finds the signer again; the log is appended to.
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        config = {
            "server": {
                "grpc_addr": f"127.0.0.1:{self.port}",
                "tls_cert_file": str(self.tls.server.cert_file),
                "tls_key_file": str(self.tls.server.key_file),
                "client_ca_file": str(self.tls.ca_file),
            },
            "logging": {"level": "info"},
            "storage": self.storage,
        }
        self.config_path.write_text(json.dumps(config))
        env = no_proxy_env(os.environ)
        env.update(self.env)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=env,
            )
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_healthy(self, timeout: float = 20.0) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        last = "no answer"
        with sync_channel(self.tls, self.port) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    msg = f"signer exited with {self._proc.returncode}:\n{tail_of(self.log_path)}"
                    raise GoToolError(msg)
                try:
                    statuses = {
                        stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=2).status
                        for name in HEALTH_NAMES
                    }
                except grpc.RpcError as err:
                    last = repr(err)
                else:
                    if statuses == {health_pb2.HealthCheckResponse.SERVING}:
                        return
                time.sleep(0.1)
        raise GoToolError(f"signer not healthy ({last}):\n{tail_of(self.log_path)}")

    def stop(self, timeout: float = 10.0) -> int | None:
        proc, self._proc = self._proc, None
        return stop_process(proc, timeout)

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the process (no graceful shutdown) and reap it."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=timeout)

    @property
    def log(self) -> str:
        return tail_of(self.log_path, limit=1_000_000)
