"""Scheduled re-signing: fresh timestamps (and server-managed snapshots) before they expire.

Beyond Go, which re-signs only when a reader asks for an expired file (the
lazy refresh in :mod:`notary_server.services.timestamp`, which stays as the
fallback). A file is re-signed once less than ``remaining_fraction`` of its
default lifetime is left: with Notary's 14-day timestamps and the default
one third, a timestamp is replaced when under about 4.7 days remain, so no
reader receives expired metadata and no reader waits for a signature.

A pass is incremental (ADR 0023): it reads each repository's timestamp, a few
at a time, and learns the snapshot's expiry from :class:`FileExpiries`, which
parses a snapshot once, when it becomes current. Only a repository with
something due is read further. Large files are parsed in a thread, and the
pass yields to the event loop after each repository.

Several replicas may scan the same database: the first to store a version
wins, the others get :class:`~notary_server.storage.OldVersionError` and back
off (their next scan sees a fresh file and does nothing).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notary_server.services.current import get_current
from notary_server.services.expiries import BATCH_GUNS, FileExpiries, ScanStore
from notary_server.services.offloop import parse_off_loop
from notary_server.services.updates import issue_timestamp
from notary_server.storage import NotFoundError, OldVersionError, StorageError
from notary_server.trust.base import TrustServiceError
from notary_server.trust.signing import InsufficientSignaturesError, sign_with_role
from notary_tuf.errors import NotaryTufError
from notary_tuf.generate import DEFAULT_EXPIRY, next_snapshot
from notary_tuf.rolenames import ROOT, SNAPSHOT, TIMESTAMP
from notary_tuf.signed import Metadata
from notary_tuf.validation import MetaUpdate

if TYPE_CHECKING:
    from datetime import datetime

    from notary_server.storage.base import MetaStore, StoredMeta
    from notary_server.trust.base import CryptoService
    from notary_tuf.gotime import GoTime
    from notary_tuf.models import Root, Snapshot, Timestamp

__all__ = ["DEFAULT_REMAINING_FRACTION", "ResignResult", "is_due", "resign_all", "resign_gun"]

logger = logging.getLogger(__name__)

DEFAULT_REMAINING_FRACTION = 1 / 3
"""Re-sign once less than this share of a file's default lifetime remains."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResignResult:
    """What one pass did for one GUN.

    Attributes:
        gun: the repository.
        stored: the files stored (empty when nothing was due or another
            replica won).
        note: why nothing was stored, when that is worth saying.
    """

    gun: str
    stored: tuple[MetaUpdate, ...] = ()
    note: str = ""


def is_due(expires: GoTime, role: str, now: datetime, fraction: float) -> bool:
    """Tell whether a ``role`` file expiring at ``expires`` should be re-signed at ``now``."""
    return expires.to_datetime() - now < DEFAULT_EXPIRY[role] * fraction


async def _fresh_snapshot(
    crypto: CryptoService,
    gun: str,
    *,
    root: Root,
    root_bytes: bytes,
    previous: Snapshot,
    now: datetime,
) -> MetaUpdate | None:
    unsigned = Metadata.from_signed(SNAPSHOT, next_snapshot(previous, {ROOT: root_bytes}, now=now))
    try:
        signed = await sign_with_role(
            crypto, unsigned, root.role_keys(SNAPSHOT), root.roles[SNAPSHOT].threshold
        )
    except InsufficientSignaturesError:
        logger.info("%s: the snapshot is due but not server-managed; its owner must re-sign", gun)
        return None
    return MetaUpdate(role=SNAPSHOT, version=signed.version, data=signed.to_bytes())


async def resign_gun(
    store: MetaStore, crypto: CryptoService, gun: str, *, now: datetime, fraction: float
) -> ResignResult:
    """Re-sign the GUN's timestamp (and server-managed snapshot) if due.

    Raises:
        StorageError: the store failed or holds unusable files.
        TrustServiceError: the trust service failed.
    """
    try:
        ts_row = await store.get_current(gun, TIMESTAMP)
    except NotFoundError:
        return ResignResult(gun=gun, note="no timestamp")
    timestamp: Metadata[Timestamp] = await parse_off_loop(TIMESTAMP, ts_row)
    snapshot_row = await get_current(store, gun, SNAPSHOT)
    snapshot: Metadata[Snapshot] = await parse_off_loop(SNAPSHOT, snapshot_row)
    snapshot_due = is_due(snapshot.signed.expires, SNAPSHOT, now, fraction)
    if not snapshot_due and not is_due(timestamp.signed.expires, TIMESTAMP, now, fraction):
        return ResignResult(gun=gun)
    root_row = await get_current(store, gun, ROOT)
    root: Metadata[Root] = await parse_off_loop(ROOT, root_row)
    if root.signed.expires.is_expired(now):
        return ResignResult(gun=gun, note="the root has expired")
    updates: list[MetaUpdate] = []
    snapshot_bytes = snapshot_row.data
    if snapshot_due:
        fresh = await _fresh_snapshot(
            crypto,
            gun,
            root=root.signed,
            root_bytes=root_row.data,
            previous=snapshot.signed,
            now=now,
        )
        if fresh is not None:
            updates.append(fresh)
            snapshot_bytes = fresh.data
    try:
        updates.append(
            await issue_timestamp(
                crypto=crypto,
                gun=gun,
                root=root.signed,
                previous=timestamp.signed,
                snapshot=snapshot_bytes,
                now=now,
            )
        )
    except NotaryTufError as e:
        return ResignResult(gun=gun, note=f"cannot re-sign the timestamp: {e}")
    try:
        await store.update_many(gun, updates)
    except OldVersionError:
        logger.debug("%s: another replica re-signed first; backing off", gun)
        return ResignResult(gun=gun, note="another writer won")
    logger.info("re-signed %s ahead of expiry: %s", gun, ", ".join(u.role for u in updates))
    return ResignResult(gun=gun, stored=tuple(updates))


async def _may_be_due(
    store: MetaStore,
    expiries: FileExpiries,
    gun: str,
    timestamp_row: StoredMeta,
    *,
    now: datetime,
    fraction: float,
) -> bool:
    """Whether the GUN's timestamp or snapshot is due, from its timestamp and remembered facts."""
    timestamp: Metadata[Timestamp] = await parse_off_loop(TIMESTAMP, timestamp_row)
    if is_due(timestamp.signed.expires, TIMESTAMP, now, fraction):
        return True
    snapshot = await expiries.snapshot_of(store, gun, timestamp_row)
    return snapshot.expires - now < DEFAULT_EXPIRY[SNAPSHOT] * fraction


async def resign_all(
    store: ScanStore,
    crypto: CryptoService,
    *,
    now: datetime,
    fraction: float,
    expiries: FileExpiries | None = None,
) -> list[ResignResult]:
    """Run :func:`resign_gun` over every GUN with something due; one failure does not stop the rest.

    Args:
        store: the metadata store.
        crypto: the trust service.
        now: the time of the pass.
        fraction: see :data:`DEFAULT_REMAINING_FRACTION`.
        expiries: the facts remembered from earlier passes (a fresh memo when None).

    Raises:
        StorageError: the GUNs cannot be listed.
    """
    expiries = expiries if expiries is not None else FileExpiries()
    guns = await store.list_guns()
    results = []
    for start in range(0, len(guns), BATCH_GUNS):
        batch = guns[start : start + BATCH_GUNS]
        timestamps = await store.get_current_many(TIMESTAMP, batch)
        for gun in batch:
            row = timestamps.get(gun)
            try:
                if row is None:
                    results.append(ResignResult(gun=gun, note="no timestamp"))
                elif not await _may_be_due(store, expiries, gun, row, now=now, fraction=fraction):
                    results.append(ResignResult(gun=gun))
                else:
                    results.append(await resign_gun(store, crypto, gun, now=now, fraction=fraction))
            except (StorageError, TrustServiceError, NotaryTufError) as e:
                logger.warning("re-signing %s failed: %s", gun, e)
                results.append(ResignResult(gun=gun, note=f"failed: {e}"))
            await asyncio.sleep(0)
    return results
