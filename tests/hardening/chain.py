"""A fresh client's check of a repository: fetch timestamp → snapshot → root/targets, verify all."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Metadata
from notary_tuf.verify import verify_expiry, verify_signatures
from testkit.server_helpers import tuf_url

if TYPE_CHECKING:
    from notary_tuf.models import Root, Snapshot, Targets, Timestamp
    from testkit.server_helpers import AppClient


async def _get(client: AppClient, gun: str, name: str) -> bytes:
    response = await client.get(tuf_url(gun, f"{name}.json"))
    assert response.status == 200, (gun, name, response.status, await response.text())
    return await response.read()


async def verified_chain(client: AppClient, gun: str) -> dict[str, Metadata[Any]]:
    """Fetch the current files and verify signatures, thresholds, expiry and hashes.

    Returns:
        The four verified files by role.
    """
    now = datetime.now(UTC)
    raw = {role: await _get(client, gun, role) for role in (TIMESTAMP, SNAPSHOT, ROOT, TARGETS)}
    root: Metadata[Root] = Metadata.from_bytes(ROOT, raw[ROOT])
    timestamp: Metadata[Timestamp] = Metadata.from_bytes(TIMESTAMP, raw[TIMESTAMP])
    snapshot: Metadata[Snapshot] = Metadata.from_bytes(SNAPSHOT, raw[SNAPSHOT])
    targets: Metadata[Targets] = Metadata.from_bytes(TARGETS, raw[TARGETS])
    files: dict[str, Metadata[Any]] = {
        ROOT: root,
        TIMESTAMP: timestamp,
        SNAPSHOT: snapshot,
        TARGETS: targets,
    }
    for role, metadata in files.items():
        keys = root.signed.role_keys(role)
        threshold = root.signed.roles[role].threshold
        verify_signatures(metadata.envelope, keys, threshold, role=role)
        verify_expiry(metadata.signed, now=now, role=role)
    timestamp.signed.snapshot_meta.check(raw[SNAPSHOT], SNAPSHOT)
    for role in (ROOT, TARGETS):
        snapshot.signed.meta[role].check(raw[role], role)
    return files
