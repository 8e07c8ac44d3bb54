"""Consistent reads of a repository's "current" files (port of Go ``server/storage/tuf_store.go``).

The current timestamp is the highest stored version; the current snapshot is the
one that timestamp names; every other current role is the version the current
snapshot names. So a reader never mixes files from different updates, even
while another update is being written.

Unlike Go, a role the snapshot does not name is simply not found (Go's SQL
stores answer 500).

:class:`MetadataReader` serves the GET routes through the in-process cache
(:mod:`notary_server.cache`), coherent with the database through a change
tracker (:mod:`notary_server.storage.notify`); :func:`get_current` is the
uncached read, used by updates and as the fallback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from notary_server.cache import DEFAULT_MAX_BYTES, CachedFile, Chain, MetadataCache
from notary_server.storage import NotFoundError, StorageError
from notary_server.storage.base import MetaStore
from notary_server.storage.capabilities import BulkReads
from notary_server.storage.notify import TracksChanges, open_tracker
from notary_tuf.errors import NotaryTufError
from notary_tuf.rolenames import SNAPSHOT, TIMESTAMP
from notary_tuf.signed import Metadata

if TYPE_CHECKING:
    from notary_server.storage.base import StoredMeta
    from notary_server.storage.notify import ChangeTracker
    from notary_tuf.models import Snapshot, Timestamp

__all__ = [
    "MetadataReader",
    "ReaderStore",
    "TrackedStore",
    "build_chain",
    "get_current",
    "named_checksum",
    "open_reader",
    "parse_stored",
]


class ReaderStore(MetaStore, BulkReads, Protocol):
    """What :class:`MetadataReader` holds: Go's contract, and bulk reads for the cache warmer.

    The timestamp route writes through it too, when it re-issues an expired
    timestamp (:mod:`notary_server.services.timestamp`).
    """


class TrackedStore(ReaderStore, TracksChanges, Protocol):
    """What :func:`open_reader` needs: a reader's store that may announce its changes."""


def parse_stored(role: str, stored: StoredMeta) -> Metadata[Any]:
    """Parse a stored file; a stored file that does not parse is a storage fault.

    Raises:
        StorageError: the stored bytes are not valid metadata for ``role``.
    """
    try:
        return Metadata.from_bytes(role, stored.data)
    except NotaryTufError as e:
        raise StorageError(f"stored {role} does not parse: {e}") from e


def named_checksum(meta: Metadata[Timestamp] | Metadata[Snapshot], role: str) -> str:
    """The SHA-256 (hex) that a timestamp or snapshot records for ``role``.

    Raises:
        NotFoundError: it records none.
    """
    entry = meta.signed.meta.get(role)
    checksum = entry.sha256_hex if entry is not None else None
    if checksum is None:
        raise NotFoundError(f"{role} is not named by the current {meta.role}")
    return checksum


async def get_current(store: MetaStore, gun: str, role: str) -> StoredMeta:
    """Return the current version of ``role`` as a consistent reader sees it.

    Raises:
        NotFoundError: the repository or the role does not exist.
        StorageError: the store failed or holds unparsable files.
    """
    timestamp_row = await store.get_current(gun, TIMESTAMP)
    if role == TIMESTAMP:
        return timestamp_row
    timestamp: Metadata[Timestamp] = parse_stored(TIMESTAMP, timestamp_row)
    snapshot_row = await store.get_checksum(gun, SNAPSHOT, named_checksum(timestamp, SNAPSHOT))
    if role == SNAPSHOT:
        return snapshot_row
    snapshot: Metadata[Snapshot] = parse_stored(SNAPSHOT, snapshot_row)
    return await store.get_checksum(gun, role, named_checksum(snapshot, role))


def build_chain(
    timestamp_row: StoredMeta, timestamp: Metadata[Timestamp], snapshot_row: StoredMeta
) -> Chain:
    """The cache entry for a timestamp (already parsed) and the snapshot it names.

    Raises:
        StorageError: the stored snapshot does not parse.
    """
    snapshot: Metadata[Snapshot] = parse_stored(SNAPSHOT, snapshot_row)
    checksums = {}
    for role, meta in snapshot.signed.meta.items():
        checksum = meta.sha256_hex
        if checksum is not None:
            checksums[role] = checksum
    return Chain(
        timestamp=CachedFile.of(timestamp_row.created, timestamp_row.data),
        timestamp_expires_ns=timestamp.signed.expires.nanos,
        snapshot=CachedFile.of(snapshot_row.created, snapshot_row.data),
        snapshot_expires_ns=snapshot.signed.expires.nanos,
        checksums=checksums,
    )


class MetadataReader:
    """Reads metadata files for the GET routes through a :class:`MetadataCache`.

    Three modes, chosen by what the store can tell about changes:

    * **tracked** (a :class:`ChangeTracker`: PostgreSQL with migration 0003,
      SQLite): current chains and immutable files are served from the cache
      after :meth:`ChangeTracker.sync` confirmed that every change committed
      before the request has been applied. While the tracker is unavailable
      (listener connection lost), everything is read from the database.
    * **validated** (no tracker: memory, or PostgreSQL without the trigger):
      the current timestamp row is read on every request and a cached chain is
      used only if it was built from those very bytes; immutable files are
      read from the store.

    A chain (timestamp, the snapshot it names, the checksums that snapshot
    names) is built from one consistent read and replaced as a unit.
    """

    def __init__(
        self, store: ReaderStore, cache: MetadataCache, tracker: ChangeTracker | None
    ) -> None:
        """Read ``store`` through ``cache``, kept coherent by ``tracker`` (None: validated)."""
        self.store = store
        self.cache = cache
        self.tracker = tracker

    async def close(self) -> None:
        """Stop tracking changes."""
        if self.tracker is not None:
            await self.tracker.close()

    async def chain(self, gun: str) -> Chain | None:
        """The GUN's current chain; ``None`` when it cannot be used (read uncached instead).

        Raises:
            NotFoundError: the repository has no timestamp, or the snapshot it names.
            StorageError: the store failed or holds unparsable files.
        """
        tracker = self.tracker
        if tracker is None:
            row = await self.store.get_current(gun, TIMESTAMP)
            chain = self.cache.get_chain(gun)
            if chain is not None and chain.timestamp.data == row.data:
                return chain
            return await self._load_chain(gun, row, self.cache.epoch)
        if not tracker.available:
            return None
        if self.cache.has_gun(gun):
            if not await tracker.sync():
                return None
            chain = self.cache.get_chain(gun)
            if chain is not None:
                return chain
        epoch = self.cache.epoch
        return await self._load_chain(gun, await self.store.get_current(gun, TIMESTAMP), epoch)

    @property
    def can_fill(self) -> bool:
        """Whether what is read from the store now may be stored in the cache."""
        return self.tracker is None or self.tracker.available

    async def _load_chain(self, gun: str, row: StoredMeta, epoch: int) -> Chain:
        timestamp: Metadata[Timestamp] = parse_stored(TIMESTAMP, row)
        snapshot_row = await self.store.get_checksum(
            gun, SNAPSHOT, named_checksum(timestamp, SNAPSHOT)
        )
        chain = build_chain(row, timestamp, snapshot_row)
        if self.can_fill:
            self.cache.put_chain(gun, chain, epoch)
        return chain

    async def current(self, gun: str, role: str) -> CachedFile:
        """The current version of a role other than timestamp and snapshot (no re-issue).

        Raises:
            NotFoundError: the repository or the role does not exist.
            StorageError: the store failed or holds unparsable files.
        """
        chain = await self.chain(gun)
        if chain is None:
            stored = await get_current(self.store, gun, role)
            return CachedFile.of(stored.created, stored.data)
        if role == TIMESTAMP:
            return chain.timestamp
        if role == SNAPSHOT:
            return chain.snapshot
        checksum = chain.checksums.get(role)
        if checksum is None:
            raise NotFoundError(f"{role} is not named by the current snapshot")
        # The chain came from the cache after a sync, or from the database: no second sync.
        return await self._immutable(gun, role, "c" + checksum, synced=True)

    async def by_checksum(self, gun: str, role: str, checksum: str) -> CachedFile:
        """The version of a role whose SHA-256 is ``checksum`` (lowercase hex).

        Raises:
            NotFoundError: no such file.
            StorageError: the store failed.
        """
        return await self._immutable(gun, role, "c" + checksum, synced=False)

    async def by_version(self, gun: str, role: str, version: int) -> CachedFile:
        """A given version of a role.

        Raises:
            NotFoundError: no such version.
            StorageError: the store failed.
        """
        return await self._immutable(gun, role, f"v{version}", synced=False)

    async def _immutable(self, gun: str, role: str, which: str, *, synced: bool) -> CachedFile:
        tracker = self.tracker
        key = (gun, role, which)
        if tracker is not None and tracker.available:
            found = self.cache.get_file(key)
            if found is not None:
                if synced or await tracker.sync():
                    found = self.cache.get_file(key)  # the sync may have dropped it
                    if found is not None:
                        return found
                else:
                    tracker = None  # coherence lost: read the store, do not fill
        epoch = self.cache.epoch
        if which[0] == "c":
            stored = await self.store.get_checksum(gun, role, which[1:])
        else:
            stored = await self.store.get_version(gun, role, int(which[1:]))
        file = CachedFile.of(stored.created, stored.data)
        if tracker is not None and tracker.available:
            self.cache.put_file(key, file, epoch)
        return file


async def open_reader(store: TrackedStore, max_bytes: int = DEFAULT_MAX_BYTES) -> MetadataReader:
    """Build the reader for ``store``, with a change tracker when the store has one."""
    cache = MetadataCache(max_bytes)
    return MetadataReader(store, cache, await open_tracker(store, cache))
