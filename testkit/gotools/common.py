"""Locations of the Go reference tools and their shared errors.

The process helpers (:func:`free_port`, :func:`no_proxy_env`, :func:`stop_process`,
:func:`tail_of`) are ``notary_runtime.processes``'s (ADR 0030), re-exported here for
the tests that import them with the Go tools.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from notary_runtime.processes import free_port, no_proxy_env, stop_process, tail_of
from testkit.ci import missing_real_part

NOTARY_BIN = Path("/usr/bin/notary")
NOTARY_SERVER_BIN = Path("/usr/bin/notary-server")
NOTARY_SIGNER_BIN = Path("/usr/bin/notary-signer")
APT_HINT = "install the Go reference tools with: apt-get install -y notary"

__all__ = [
    "APT_HINT",
    "DEFAULT_PASSPHRASE",
    "NOTARY_BIN",
    "NOTARY_SERVER_BIN",
    "NOTARY_SIGNER_BIN",
    "PASSPHRASE_ENV_VARS",
    "GoToolError",
    "free_port",
    "missing_go_tools",
    "no_proxy_env",
    "require_docker_cli",
    "require_go_tools",
    "stop_process",
    "tail_of",
]

DEFAULT_PASSPHRASE = "harness-passphrase-1"
PASSPHRASE_ENV_VARS = (
    "NOTARY_ROOT_PASSPHRASE",
    "NOTARY_TARGETS_PASSPHRASE",
    "NOTARY_SNAPSHOT_PASSPHRASE",
    "NOTARY_DELEGATION_PASSPHRASE",
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
