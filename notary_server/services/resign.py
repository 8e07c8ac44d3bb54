"""Scheduled re-signing: fresh timestamps (and server-managed snapshots) before they expire.

Beyond Go, which re-signs only when a reader asks for an expired file (the
lazy refresh in :mod:`notary_server.services.timestamp`, which stays as the
fallback). A file is re-signed once less than ``remaining_fraction`` of its
default lifetime is left: with Notary's 14-day timestamps and the default
one third, a timestamp is replaced when under about 4.7 days remain, so no
reader receives expired metadata and no reader waits for a signature.

Several replicas may scan the same database: the first to store a version
wins, the others get :class:`~notary_server.storage.OldVersionError` and back
off (their next scan sees a fresh file and does nothing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notary_server.services.current import get_current, parse_stored
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

    from notary_server.storage.base import MetaStore
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
    timestamp: Metadata[Timestamp] = parse_stored(TIMESTAMP, ts_row)
    snapshot_row = await get_current(store, gun, SNAPSHOT)
    snapshot: Metadata[Snapshot] = parse_stored(SNAPSHOT, snapshot_row)
    snapshot_due = is_due(snapshot.signed.expires, SNAPSHOT, now, fraction)
    if not snapshot_due and not is_due(timestamp.signed.expires, TIMESTAMP, now, fraction):
        return ResignResult(gun=gun)
    root_row = await get_current(store, gun, ROOT)
    root: Metadata[Root] = parse_stored(ROOT, root_row)
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


async def resign_all(
    store: MetaStore, crypto: CryptoService, *, now: datetime, fraction: float
) -> list[ResignResult]:
    """Run :func:`resign_gun` over every GUN; one GUN's failure does not stop the rest.

    Raises:
        StorageError: the GUNs cannot be listed.
    """
    results = []
    for gun in await store.list_guns():
        try:
            results.append(await resign_gun(store, crypto, gun, now=now, fraction=fraction))
        except (StorageError, TrustServiceError, NotaryTufError) as e:
            logger.warning("re-signing %s failed: %s", gun, e)
            results.append(ResignResult(gun=gun, note=f"failed: {e}"))
    return results
