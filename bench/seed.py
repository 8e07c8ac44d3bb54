"""Repositories the load runs against, made the same way on both servers.

* :func:`seed_with_cli` drives the real Go ``notary`` client (``init -p``, ``add``,
  ``publish``): the repository the GET scenarios read, with the CLI's default
  client-held snapshot key.
* :class:`Publisher` builds a second repository with ``testkit/repo_builder.py``
  (``notary_tuf`` underneath) whose snapshot the *server* manages, and pre-signs a
  series of ``targets`` updates; posting one makes the server sign a new snapshot and
  timestamp, which is what a ``notary publish`` costs the server.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import secrets
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bench.servers import BenchError, ServerProcess, clean_env
from notary_tuf.keys import PublicKey
from notary_tuf.rolenames import ROOT
from testkit.repo_builder import RepoBuilder

NOTARY_BIN: Final = Path("/usr/bin/notary")
PASSPHRASE: Final = "bench-passphrase-1"  # noqa: S105 - throwaway keys in a temp dir
_PASSPHRASE_VARS: Final = (
    "NOTARY_ROOT_PASSPHRASE",
    "NOTARY_TARGETS_PASSPHRASE",
    "NOTARY_SNAPSHOT_PASSPHRASE",
    "NOTARY_DELEGATION_PASSPHRASE",
)


def tuf_path(gun: str, name: str) -> str:
    """``/v2/<gun>/_trust/tuf/<name>.json``."""
    return f"/v2/{gun}/_trust/tuf/{name}.json"


def https_get(server: ServerProcess, path: str, context: ssl.SSLContext) -> bytes:
    """GET ``path``; anything but a 200 raises :class:`BenchError`."""
    try:
        with urllib.request.urlopen(server.url + path, context=context, timeout=10) as resp:  # noqa: S310
            body: bytes = resp.read()
            return body
    except OSError as err:
        raise BenchError(f"{server.label}: GET {path} failed: {err!r}") from err


# --------------------------------------------------------------------------- CLI seeding


def seed_with_cli(server: ServerProcess, workdir: Path, gun: str, *, targets: int) -> None:
    """``notary init -p GUN``, then ``targets`` times ``notary add`` and one ``publish``."""
    home = workdir / "home"
    trust = workdir / "trust"
    files = workdir / "files"
    for directory in (home, trust, files):
        directory.mkdir(parents=True, exist_ok=True)
    env = clean_env()
    env["HOME"] = str(home)
    env.update(dict.fromkeys(_PASSPHRASE_VARS, PASSPHRASE))
    base = [str(NOTARY_BIN), "-d", str(trust), "-s", server.url, "--tlscacert", str(server.tls.ca)]

    def notary(*args: str) -> None:
        proc = subprocess.run(
            [*base, *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            cwd=workdir,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            msg = f"{server.label}: notary {' '.join(args)} exited with {proc.returncode}"
            raise BenchError(f"{msg}\n{proc.stdout}{proc.stderr}")

    notary("init", "-p", gun)
    for index in range(targets):
        # Same names and contents on both servers, so both serve the same targets.
        blob = files / f"artifact-{index:03d}.bin"
        blob.write_bytes(hashlib.sha256(f"bench artifact {index}".encode()).digest() * 64)
        notary("add", gun, f"v{index:03d}", str(blob))
    notary("publish", gun)


@dataclass(frozen=True)
class GetPaths:
    """The paths the GET scenarios request, resolved against one server's repository."""

    timestamp: str
    root: str
    targets_by_checksum: str
    root_by_version: str


def resolve_get_paths(server: ServerProcess, gun: str, context: ssl.SSLContext) -> GetPaths:
    """Look up the current targets checksum and check every path answers 200."""
    targets = https_get(server, tuf_path(gun, "targets"), context)
    paths = GetPaths(
        timestamp=tuf_path(gun, "timestamp"),
        root=tuf_path(gun, "root"),
        targets_by_checksum=tuf_path(gun, f"targets.{hashlib.sha256(targets).hexdigest()}"),
        root_by_version=tuf_path(gun, "1.root"),
    )
    for path in (paths.timestamp, paths.root, paths.targets_by_checksum, paths.root_by_version):
        https_get(server, path, context)
    return paths


# --------------------------------------------------------------------------- publishes


def multipart_body(parts: dict[str, bytes]) -> tuple[bytes, str]:
    """Encode ``parts`` as the Go client does (form name ``files``, filename = role)."""
    boundary = secrets.token_hex(30)
    chunks = []
    for role, blob in parts.items():
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{role}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + blob
        )
    body = b"\r\n".join(chunks) + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@dataclass
class Publisher:
    """Posts pre-signed ``targets`` updates to a repository with a server-managed snapshot."""

    server: ServerProcess
    gun: str
    context: ssl.SSLContext
    updates: list[tuple[bytes, str]] = field(default_factory=list)
    _conn: http.client.HTTPSConnection | None = None

    def _server_key(self, role: str) -> PublicKey:
        body = https_get(self.server, f"/v2/{self.gun}/_trust/tuf/{role}.key", self.context)
        return PublicKey.from_dict(json.loads(body))

    def prepare(self, count: int, *, initial_targets: int = 0) -> None:
        """Create the repository (root + targets v1), then pre-sign ``count`` updates.

        Update ``i`` adds target ``pub-i`` to ``targets`` (version ``i + 2``); signing
        happens here so that only the upload is timed. ``initial_targets`` entries
        are in the targets file from the start (a large repository).
        """
        builder = RepoBuilder(
            gun=self.gun,
            timestamp_key=self._server_key("timestamp"),
            snapshot_key=self._server_key("snapshot"),
        )
        for index in range(initial_targets):
            builder.add_target(f"base-{index:06d}", f"base artifact {index}".encode())
        first = builder.publish()
        assert ROOT in first
        self.post(*multipart_body(first))
        builder.accept(first)
        self.updates = []
        for index in range(count):
            builder.add_target(f"pub-{index:05d}", f"published artifact {index}".encode())
            parts = builder.publish()
            self.updates.append(multipart_body(parts))
            builder.accept(parts)

    def post(self, body: bytes, content_type: str) -> float:
        """POST one update over a kept-alive connection; return its latency in seconds."""
        if self._conn is None:
            self._conn = http.client.HTTPSConnection(
                "127.0.0.1", self.server.port, context=self.context, timeout=30
            )
        start = time.perf_counter()
        self._conn.request(
            "POST", f"/v2/{self.gun}/_trust/tuf/", body=body, headers={"Content-Type": content_type}
        )
        resp = self._conn.getresponse()
        answer = resp.read()
        elapsed = time.perf_counter() - start
        if resp.status != 200:
            self.close()
            raise BenchError(f"{self.server.label}: publish got {resp.status}: {answer[:300]!r}")
        return elapsed

    def close(self) -> None:
        """Close the kept-alive connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
