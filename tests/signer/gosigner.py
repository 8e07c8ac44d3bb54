"""Run a signer (the Go ``/usr/bin/notary-signer`` or ours) as a process on loopback.

Both are started from a ``signer-config.json`` as a ``notary_runtime.processes``
child (ADR 0030) and waited for through the gRPC health service, over mutual TLS
(``tests.deploy.procs.signer_health``).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import grpc

from notary_runtime.processes import ChildProcess, free_port, no_proxy_env, tail_of
from testkit.ci import missing_real_part
from testkit.gotools import NOTARY_SIGNER_BIN, GoToolError
from tests.deploy.procs import signer_health
from tests.signer.conftest import TLSFiles


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
    _process: ChildProcess | None = field(default=None, repr=False)

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
        self._process = ChildProcess(
            "signer", self.argv(), self.log_path, env=env, cwd=self.workdir, error=GoToolError
        )
        probe = signer_health(
            self.port,
            ca=self.tls.ca_file,
            cert=self.tls.client_cert_file,
            key=self.tls.client_key_file,
        )
        self._process.start_ready(probe, timeout=20.0)

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 10.0) -> int | None:
        process, self._process = self._process, None
        return process.stop(timeout) if process is not None else None

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._process is not None and self._process.running

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL the process (no graceful shutdown) and reap it."""
        process, self._process = self._process, None
        if process is not None:
            process.kill(timeout)

    @property
    def log(self) -> str:
        return tail_of(self.log_path, limit=1_000_000)
