"""Serving the current timestamp and snapshot, re-issuing them once they expire.

Port of Go ``server/timestamp/timestamp.go`` ``GetOrCreateTimestamp`` and
``server/snapshot/snapshot.go`` ``GetOrCreateSnapshot``: on a GET of the current
timestamp or snapshot, an expired snapshot (server-managed) is re-issued, and an
expired timestamp, or one that no longer names the snapshot, is re-issued; both
are stored atomically before they are served.

Beyond Go: when a concurrent request stored the refreshed files first (a version
conflict), its files are served instead of failing with a 500; and GETs are
served from the cached chain (:func:`serve_timestamp`, :func:`serve_snapshot`)
while it is fresh, the expiry being checked on every request. A large stored
snapshot or root is parsed in a thread (ADR 0023).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notary_server.cache import CachedFile
from notary_server.services.current import get_current
from notary_server.services.offloop import parse_off_loop
from notary_server.services.updates import issue_timestamp
from notary_server.storage import OldVersionError, StorageError
from notary_server.storage.base import StoredMeta
from notary_server.trust.base import TrustServiceError
from notary_server.trust.signing import InsufficientSignaturesError, sign_with_role
from notary_tuf.errors import NotaryTufError
from notary_tuf.generate import next_snapshot
from notary_tuf.rolenames import ROOT, SNAPSHOT, TIMESTAMP
from notary_tuf.signed import Metadata
from notary_tuf.validation import MetaUpdate

if TYPE_CHECKING:
    from datetime import datetime

    from notary_server.services.current import MetadataReader
    from notary_server.storage.base import MetaStore
    from notary_server.trust.base import CryptoService
    from notary_tuf.models import Root, Snapshot, Timestamp

__all__ = [
    "RefreshError",
    "get_current_snapshot",
    "get_or_create_timestamp",
    "serve_snapshot",
    "serve_timestamp",
]

logger = logging.getLogger(__name__)


class RefreshError(Exception):
    """An expired timestamp or snapshot could not be re-issued."""


@dataclass(frozen=True, slots=True)
class _Snapshot:
    data: bytes
    reissued: bool


async def _current_root(store: MetaStore, gun: str, now: datetime) -> Root:
    root: Metadata[Root] = await parse_off_loop(ROOT, await get_current(store, gun, ROOT))
    if root.signed.expires.is_expired(now):
        raise RefreshError(f"{gun}: the root has expired; cannot re-issue metadata")
    return root.signed


async def _snapshot_for(
    store: MetaStore, crypto: CryptoService, gun: str, checksum: str, now: datetime
) -> _Snapshot:
    row = await store.get_checksum(gun, SNAPSHOT, checksum)
    previous: Metadata[Snapshot] = await parse_off_loop(SNAPSHOT, row)
    if not previous.signed.expires.is_expired(now):
        return _Snapshot(row.data, reissued=False)
    root = await _current_root(store, gun, now)
    root_bytes = (await get_current(store, gun, ROOT)).data
    unsigned = Metadata.from_signed(
        SNAPSHOT, next_snapshot(previous.signed, {ROOT: root_bytes}, now=now)
    )
    try:
        signed = await sign_with_role(
            crypto, unsigned, root.role_keys(SNAPSHOT), root.roles[SNAPSHOT].threshold
        )
    except (InsufficientSignaturesError, TrustServiceError) as e:
        raise RefreshError(f"{gun}: cannot re-sign the expired snapshot: {e}") from e
    return _Snapshot(signed.to_bytes(), reissued=True)


async def get_or_create_timestamp(
    store: MetaStore, crypto: CryptoService, gun: str, now: datetime
) -> StoredMeta:
    """Return the current timestamp, re-issuing it (and the snapshot) if expired.

    Raises:
        NotFoundError: the repository has no timestamp.
        RefreshError: a re-issue was needed but is impossible (expired root,
            keys not held, version exhausted).
        StorageError: the store failed or holds unusable files.
    """
    row = await store.get_current(gun, TIMESTAMP)
    previous: Metadata[Timestamp] = await parse_off_loop(TIMESTAMP, row)
    checksum = previous.signed.snapshot_meta.sha256_hex
    if checksum is None:
        raise StorageError(f"{gun}: the current timestamp names no snapshot sha256")
    snapshot = await _snapshot_for(store, crypto, gun, checksum, now)
    if not previous.signed.expires.is_expired(now) and not snapshot.reissued:
        return row

    updates = []
    if snapshot.reissued:
        version = Metadata.from_bytes(SNAPSHOT, snapshot.data).version
        updates.append(MetaUpdate(role=SNAPSHOT, version=version, data=snapshot.data))
    try:
        root = await _current_root(store, gun, now)
        updates.append(
            await issue_timestamp(
                crypto=crypto,
                gun=gun,
                root=root,
                previous=previous.signed,
                snapshot=snapshot.data,
                now=now,
            )
        )
    except NotaryTufError as e:
        raise RefreshError(f"{gun}: cannot re-issue the timestamp: {e}") from e
    try:
        await store.update_many(gun, updates)
    except OldVersionError:
        logger.info("%s: a concurrent request refreshed the timestamp first", gun)
        return await store.get_current(gun, TIMESTAMP)
    logger.info("re-issued the expired timestamp of %s: version %d", gun, updates[-1].version)
    return StoredMeta(created=now, data=updates[-1].data)


async def get_current_snapshot(
    store: MetaStore, crypto: CryptoService, gun: str, now: datetime
) -> StoredMeta:
    """Return the snapshot the (possibly refreshed) current timestamp names.

    Raises:
        NotFoundError: the repository has no timestamp or snapshot.
        RefreshError: see :func:`get_or_create_timestamp`.
        StorageError: the store failed or holds unusable files.
    """
    timestamp = await get_or_create_timestamp(store, crypto, gun, now)
    parsed: Metadata[Timestamp] = await parse_off_loop(
        TIMESTAMP, StoredMeta(created=timestamp.created, data=timestamp.data)
    )
    checksum = parsed.signed.snapshot_meta.sha256_hex
    if checksum is None:  # pragma: no cover - checked while refreshing
        raise StorageError(f"{gun}: the current timestamp names no snapshot sha256")
    return await store.get_checksum(gun, SNAPSHOT, checksum)


async def serve_timestamp(
    reader: MetadataReader, crypto: CryptoService, gun: str, now: datetime
) -> CachedFile:
    """The current timestamp for a GET: from the cached chain while it is fresh.

    An expired timestamp or snapshot (checked on every request, cached or not)
    goes through :func:`get_or_create_timestamp`, which re-issues and stores
    them; the store's change notification then replaces the cached chain.

    Raises:
        NotFoundError, RefreshError, StorageError: see :func:`get_or_create_timestamp`.
    """
    chain = await reader.chain(gun)
    if chain is not None and not chain.expired(now):
        return chain.timestamp
    stored = await get_or_create_timestamp(reader.store, crypto, gun, now)
    return CachedFile.of(stored.created, stored.data)


async def serve_snapshot(
    reader: MetadataReader, crypto: CryptoService, gun: str, now: datetime
) -> CachedFile:
    """The current snapshot for a GET (see :func:`serve_timestamp`).

    Raises:
        NotFoundError, RefreshError, StorageError: see :func:`get_current_snapshot`.
    """
    chain = await reader.chain(gun)
    if chain is not None and not chain.expired(now):
        return chain.snapshot
    stored = await get_current_snapshot(reader.store, crypto, gun, now)
    return CachedFile.of(stored.created, stored.data)
