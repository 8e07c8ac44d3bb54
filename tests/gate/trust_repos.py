"""Signed trust data built in process, served to the gate's TUF client from memory.

:class:`ServedRepo` wraps :class:`testkit.repo_builder.RepoBuilder` (the
client-side files) and adds what the server would make: the timestamp, signed
with a key the test holds, and the file names the public API serves
(``root``, ``<n>.root``, ``<role>.<sha256>``, ``timestamp``).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from notary_tuf.generate import next_timestamp, sign_metadata
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Metadata
from testkit.repo_builder import RepoBuilder, SigningKey, version_of

__all__ = ["ServedRepo", "TrustServer", "manifest_bytes"]


def manifest_bytes(label: str) -> bytes:
    """A stand-in manifest whose digest differs per label."""
    return f'{{"schemaVersion":2,"label":"{label}"}}'.encode()


@dataclass
class ServedRepo:
    """One GUN's trust data, as the trust server would serve it."""

    gun: str
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    timestamp_signer: SigningKey = field(default_factory=SigningKey.generate)
    files: dict[str, bytes] = field(default_factory=dict)
    builder: RepoBuilder = field(init=False)
    timestamp_version: int = 0

    def __post_init__(self) -> None:
        self.builder = RepoBuilder(
            gun=self.gun, timestamp_key=self.timestamp_signer.public, now=self.now
        )

    def sign_tag(self, tag: str, manifest: bytes, role: str = TARGETS) -> None:
        """Record ``tag`` → ``manifest`` in ``role`` (published by :meth:`publish`)."""
        self.builder.add_target(tag, manifest, role)

    def remove_tag(self, tag: str, role: str = TARGETS) -> None:
        """Drop ``tag`` from ``role``."""
        del self.builder.targets[role][tag]

    def publish(self, *roles: str, timestamp_at: datetime | None = None) -> None:
        """Sign ``roles`` (default targets), a snapshot and a timestamp; serve them."""
        parts = self.builder.publish(*roles)
        self.builder.accept(parts)
        self.serve(timestamp_at=timestamp_at)

    def rotate_root(self) -> SigningKey:
        """Replace the root key: version n+1 signed by the old and the new key."""
        old = list(self.builder.root_keys)
        new = SigningKey.root(self.gun, now=self.now)
        self.builder.root_keys = [new]
        parts: dict[str, bytes] = {ROOT: self.builder.root_file(signers=[*old, new])}
        parts[SNAPSHOT] = self.builder.snapshot_file(parts)
        self.builder.accept(parts)
        self.serve()
        return new

    def serve(self, *, timestamp_at: datetime | None = None) -> None:
        """Expose the builder's current files and a fresh timestamp (made at ``timestamp_at``)."""
        current = self.builder.current
        for data in self.builder.history.get(ROOT, []):
            self.files[f"{version_of(data)}.{ROOT}"] = data
        self.files[ROOT] = current[ROOT]
        for role, data in current.items():
            if role != ROOT:
                self.files[f"{role}.{hashlib.sha256(data).hexdigest()}"] = data
        self.timestamp_version += 1
        model = next_timestamp(None, current[SNAPSHOT], now=timestamp_at or self.now)
        model = type(model)(version=self.timestamp_version, expires=model.expires, meta=model.meta)
        metadata: Metadata[Any] = Metadata.from_signed(TIMESTAMP, model)
        signed = sign_metadata(
            metadata, {self.timestamp_signer.key_id: self.timestamp_signer.private}
        )
        self.files[TIMESTAMP] = signed.to_bytes()


EXPIRED_TIMESTAMP_AT = timedelta(days=15)
"""Issue a timestamp this long ago and it has expired (its lifetime is 14 days)."""


class TrustServer:
    """An in-memory trust server: the gate's :data:`notary_gate.tuf_client.Fetcher`."""

    def __init__(self) -> None:
        self.repos: dict[str, ServedRepo] = {}
        self.requests: list[tuple[str, str]] = []
        self.down = False

    def add(self, gun: str) -> ServedRepo:
        repo = ServedRepo(gun)
        self.repos[gun] = repo
        return repo

    async def fetch(self, gun: str, name: str, limit: int) -> bytes | None:
        from notary_gate.tuf_client import TrustServerError  # noqa: PLC0415

        self.requests.append((gun, name))
        await asyncio.sleep(0)  # a real fetch yields to other requests
        if self.down:
            raise TrustServerError("connection refused")
        repo = self.repos.get(gun)
        data = repo.files.get(name) if repo is not None else None
        if data is not None and len(data) > limit:
            raise TrustServerError(f"{name}.json is larger than {limit} bytes")
        return data
