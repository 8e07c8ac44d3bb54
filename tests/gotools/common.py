"""Locations of the Go reference tools, their shared errors and process helpers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.ci import missing_real_part

NOTARY_BIN = Path("/usr/bin/notary")
NOTARY_SERVER_BIN = Path("/usr/bin/notary-server")
NOTARY_SIGNER_BIN = Path("/usr/bin/notary-signer")
APT_HINT = "install the Go reference tools with: apt-get install -y notary"

DEFAULT_PASSPHRASE = "harness-passphrase-1"
PASSPHRASE_ENV_VARS = (
    "NOTARY_ROOT_PASSPHRASE",
    "NOTARY_TARGETS_PASSPHRASE",
    "NOTARY_SNAPSHOT_PASSPHRASE",
    "NOTARY_DELEGATION_PASSPHRASE",
)
_PROXY_ENV_VARS = (
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
)


class GoToolError(RuntimeError):
    """A Go tool failed to start, answer, or exit successfully."""


def missing_go_tools() -> list[Path]:
    """Return the Go reference binaries that are not installed."""
    return [p for p in (NOTARY_BIN, NOTARY_SERVER_BIN) if not os.access(p, os.X_OK)]


def require_go_tools() -> None:
    """Skip (or fail on CI) when the Go reference binaries are missing."""
    missing = missing_go_tools()
    if not missing:
        return
    reason = f"Go notary tools missing ({', '.join(map(str, missing))}); {APT_HINT}"
    missing_real_part(reason)


def require_docker_cli() -> str:
    """Return the docker CLI's path; skip (or fail on CI) when it is not installed.

    The CLI needs no daemon for ``docker trust`` and for the trust-resolution step
    of ``DOCKER_CONTENT_TRUST=1 docker pull``; the project machines ship it.
    """
    docker = shutil.which("docker")
    if docker is None:
        missing_real_part("the docker CLI is not installed (the project machines ship it)")
    return docker


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def no_proxy_env(base: Mapping[str, str]) -> dict[str, str]:
    """Copy of ``base`` without proxy variables (everything here is loopback)."""
    env = dict(base)
    for var in _PROXY_ENV_VARS:
        env.pop(var, None)
    return env


def tail_of(path: Path, limit: int = 4000) -> str:
    """The last ``limit`` characters of a log file, or ``""`` if unreadable."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-limit:]


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> int | None:
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
