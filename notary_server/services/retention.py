"""Retention: deleting old versions without breaking any client (``admin gc``).

Go never deletes a version, so ``tuf_files`` grows with every publish and
every re-signed timestamp. A file is kept when any of these holds:

* it is a root (a client that trusts an old root walks every version up);
* it is in the current chain: the highest timestamp, the snapshot it names,
  and every file that snapshot names (by checksum);
* it is among the ``keep_versions`` newest versions of its role (at least
  one: the highest version of a role is what the next update builds on);
* it was stored less than ``keep_days`` days ago (a client that read an older
  timestamp a moment ago still finds the snapshot it names).

Everything else of the GUN is deleted; nothing is written to the changefeed.
A publish racing with the deletion is safe: it only adds versions above the
ones planned, and the files it names are the newest of their roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from notary_server.services.current import parse_stored
from notary_server.services.inventory import InventoryStore
from notary_server.storage import NotFoundError
from notary_tuf.rolenames import ROOT, SNAPSHOT, TIMESTAMP

if TYPE_CHECKING:
    from datetime import datetime

    from notary_server.storage.base import FileInfo, MetaStore
    from notary_server.storage.capabilities import Pruning
    from notary_tuf.models import Snapshot, Timestamp
    from notary_tuf.signed import Metadata

__all__ = ["RetentionPlan", "RetentionPolicy", "apply_plan", "plan_retention"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionPolicy:
    """How much history to keep beyond what clients need.

    Attributes:
        keep_versions: newest versions kept per role (values below 1 count as 1).
        keep_days: files younger than this many days are kept.
    """

    keep_versions: int
    keep_days: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionPlan:
    """What retention would delete in one GUN.

    Attributes:
        gun: the repository.
        delete: the files to delete.
        keep: how many files stay.
    """

    gun: str
    delete: tuple[FileInfo, ...]
    keep: int

    @property
    def size(self) -> int:
        """Bytes the deletion frees."""
        return sum(info.size for info in self.delete)


async def _current_chain(store: MetaStore, gun: str) -> set[tuple[str, str]]:
    """(role, sha256) of the current timestamp, its snapshot and what that names."""
    try:
        ts_row = await store.get_current(gun, TIMESTAMP)
    except NotFoundError:
        return set()
    timestamp: Metadata[Timestamp] = parse_stored(TIMESTAMP, ts_row)
    chain: set[tuple[str, str]] = set()
    for role, meta in timestamp.signed.meta.items():
        if meta.sha256_hex is not None:
            chain.add((role, meta.sha256_hex))
    snapshot_sha = timestamp.signed.snapshot_meta.sha256_hex
    if snapshot_sha is None:
        return chain
    try:
        snapshot: Metadata[Snapshot] = parse_stored(
            SNAPSHOT, await store.get_checksum(gun, SNAPSHOT, snapshot_sha)
        )
    except NotFoundError:
        return chain
    for role, meta in snapshot.signed.meta.items():
        if meta.sha256_hex is not None:
            chain.add((role, meta.sha256_hex))
    return chain


async def plan_retention(
    store: InventoryStore, gun: str, policy: RetentionPolicy, *, now: datetime
) -> RetentionPlan:
    """Work out what to delete in ``gun`` under ``policy`` (nothing is changed).

    Raises:
        StorageError: the store failed or holds unusable current files.
    """
    files = await store.list_files(gun)
    chain = await _current_chain(store, gun)
    newest = max(policy.keep_versions, 1)
    cutoff = now - timedelta(days=max(policy.keep_days, 0))
    by_role: dict[str, list[FileInfo]] = {}
    for info in files:
        by_role.setdefault(info.role, []).append(info)
    delete = []
    for role, infos in by_role.items():
        recent = {info.version for info in sorted(infos, key=_version)[-newest:]}
        for info in infos:
            kept = (
                role == ROOT
                or info.version in recent
                or (role, info.sha256) in chain
                or info.created >= cutoff
            )
            if not kept:
                delete.append(info)
    delete.sort(key=lambda info: (info.role, info.version))
    return RetentionPlan(gun=gun, delete=tuple(delete), keep=len(files) - len(delete))


async def apply_plan(store: Pruning, plan: RetentionPlan) -> int:
    """Delete the planned files; return how many went.

    Raises:
        StorageError: the store failed (nothing or everything is deleted).
    """
    if not plan.delete:
        return 0
    return await store.delete_versions(plan.gun, [(i.role, i.version) for i in plan.delete])


def _version(info: FileInfo) -> int:
    return info.version
