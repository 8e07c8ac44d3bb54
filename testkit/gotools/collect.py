"""Fetching what a Go server serves for a GUN, as labelled :class:`Vector` files."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from testkit.gotools.common import GoToolError

if TYPE_CHECKING:
    from testkit.gotools.server import NotaryServerProcess

_MAX_VERSION_WALK = 1000

Source = Literal["server", "client-cache"]


def sha256_hex_from_meta(meta: Mapping[str, Any]) -> str:
    """Hex SHA-256 from a snapshot/timestamp ``meta`` entry (hashes are base64)."""
    return base64.b64decode(meta["hashes"]["sha256"]).hex()


def _fetch_metadata(server: NotaryServerProcess, gun: str, name: str) -> bytes | None:
    status, _, body = server.get_metadata(gun, name)
    if status == 200:
        return body
    if status == 404:
        return None
    raise GoToolError(f"GET {gun} {name}.json: {status} {body[:500]!r}")


def _collect_by_checksum(
    server: NotaryServerProcess, gun: str, files: dict[str, bytes]
) -> list[str]:
    """Walk timestamp -> snapshot -> roles by checksum; return the roles seen."""
    timestamp = _fetch_metadata(server, gun, "timestamp")
    if timestamp is None:
        return []
    files["timestamp"] = timestamp
    ts_meta = json.loads(timestamp)["signed"]["meta"]
    by_hash = {role: sha256_hex_from_meta(m) for role, m in ts_meta.items()}
    snap_hex = by_hash.pop("snapshot", None)
    snapshot = _fetch_metadata(server, gun, f"snapshot.{snap_hex}") if snap_hex else None
    if snapshot is not None:
        files[f"snapshot@{snap_hex}"] = snapshot
        snap_meta = json.loads(snapshot)["signed"]["meta"]
        by_hash.update({role: sha256_hex_from_meta(m) for role, m in snap_meta.items()})
    for role, hex_digest in by_hash.items():
        blob = _fetch_metadata(server, gun, f"{role}.{hex_digest}")
        if blob is not None:
            files[f"{role}@{hex_digest}"] = blob
    return list(by_hash)


def collect_repository(server: NotaryServerProcess, gun: str) -> dict[str, bytes]:
    """Fetch everything the server serves for ``gun``, walking it like a client.

    Labels: ``"<role>"`` is the current file (``timestamp``, ``snapshot``, ``root``,
    ``targets``, delegations), ``"<role>@<sha256 hex>"`` a file fetched by checksum
    (the snapshot named in the current timestamp, every role in its ``meta``),
    ``"<v>.<role>"`` a file fetched by version (every role with a current file,
    ``v`` = 1 .. its current version; versions the server lacks are skipped).
    Missing files are simply absent; an unpublished GUN gives ``{}``.
    """
    files: dict[str, bytes] = {}
    roles = ["root", "targets", "snapshot", "timestamp"]
    roles += [r for r in _collect_by_checksum(server, gun, files) if r not in roles]
    for role in roles:
        current = _fetch_metadata(server, gun, role)
        if current is None:
            continue
        files[role] = current
        # Versions need not start at 1 (the Go client's first targets/snapshot are
        # version 2), so walk 1..current version and keep what exists.
        newest = min(int(json.loads(current)["signed"]["version"]), _MAX_VERSION_WALK)
        for version in range(1, newest + 1):
            blob = _fetch_metadata(server, gun, f"{version}.{role}")
            if blob is not None:
                files[f"{version}.{role}"] = blob
    return files


@dataclass(frozen=True)
class Vector:
    """One metadata file produced by the Go tools.

    ``label`` follows :func:`collect_repository` for server files; for client-cache
    files it is the role path inside ``tuf/<gun>/metadata`` (e.g.
    ``targets/releases``) and ``client`` names the client.  ``step`` is the
    scenario step after which the file was first seen.
    """

    gun: str
    label: str
    role: str
    data: bytes
    source: Source
    step: str
    client: str = ""

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of ``data``."""
        return hashlib.sha256(self.data).hexdigest()

    @property
    def parsed(self) -> dict[str, Any]:
        """``data`` parsed as JSON."""
        value: dict[str, Any] = json.loads(self.data)
        return value

    @property
    def version(self) -> int:
        """``signed.version``."""
        return int(self.parsed["signed"]["version"])


def role_of_label(label: str) -> str:
    """Role name from a :func:`collect_repository` label."""
    name = label.split("@", 1)[0]
    head, _, rest = name.partition(".")
    return rest if head.isdigit() and rest else name
