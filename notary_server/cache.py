"""In-process cache of metadata files, ready to serve (beyond Go; issue #8).

Two kinds of entries, both bounded by bytes and evicted least recently used:

* **Immutable files**, read by checksum or by version. A stored row never
  changes, so an entry stays valid until its GUN is deleted (then it must go
  at once: a deleted GUN answers 404 on the next request).
* **Current chains**, one per GUN: the current timestamp, the snapshot it
  names and the checksums that snapshot names (Go ``tuf_store.go``'s
  consistent read, done once instead of per request). A chain is replaced as
  a unit, so a reader never mixes files from different updates.

The cache itself knows nothing about storage or coherence: the change tracker
(:mod:`notary_server.storage.notify`) calls :meth:`MetadataCache.invalidate`
or :meth:`MetadataCache.flush` when the database changes, and the reader
(:mod:`notary_server.services.current`) decides when the cache may be used.

Fills race with invalidations: a reader that read the database before a
change may try to store what it read after the change was announced. Every
fill therefore carries the :attr:`MetadataCache.epoch` observed *before* the
database read, and is dropped if its GUN was invalidated since (or the whole
cache was flushed). The cache remembers which GUN each recent invalidation
hit; when that record grows past :data:`MAX_TRACKED_INVALIDATIONS` it is
cleared and every fill begun before is dropped, which is safe, only slower.

All methods are synchronous and short; a lock guards them so that the cache
stays consistent even if a tracker ever calls in from another thread.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, NamedTuple

from notary_tuf.gotime import unix_nanos

if TYPE_CHECKING:
    from collections.abc import Mapping


__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_TRACKED_INVALIDATIONS",
    "CachedFile",
    "Chain",
    "MetadataCache",
    "format_last_modified",
]

DEFAULT_MAX_BYTES: Final = 128 * 1024 * 1024
"""Bytes of metadata one process keeps (files and chains together)."""

MAX_TRACKED_INVALIDATIONS: Final = 65_536
"""GUNs whose latest invalidation the cache remembers for the fill rule."""

_ENTRY_OVERHEAD: Final = 512
"""Rough per-entry cost of the Python objects around the bytes."""

ImmutableKey = tuple[str, str, str]
"""``(gun, role, "c" + checksum | "v" + version)``."""

# What the cache holds: plain tuples of atomic values (bytes, str, int,
# datetime), and dicts of them. A full garbage collection stops tracking
# those, but never named tuples, slotted classes, sets, or tuples that hold a
# dict: stored as such, 100,000 chains made every full collection take about
# 0.3 s, a pause every request in flight waits out. The public types are
# rebuilt on the way out.
_StoredFile = tuple[datetime, bytes, str, str]
_StoredChain = tuple[_StoredFile, int, _StoredFile, int, int]
"""A :class:`Chain` without its checksums (kept apart), then its size."""


def format_last_modified(moment: datetime) -> str:
    """Format a time as Go's ``time.RFC1123`` does for a UTC time (``… UTC``, not ``GMT``)."""
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S UTC")


class CachedFile(NamedTuple):
    """A metadata file with its response headers precomputed.

    Attributes:
        created: when the row was written (``Last-Modified``).
        data: the exact bytes served.
        etag: the strong ETag, the quoted lowercase hex SHA-256 of ``data``.
        last_modified: ``created`` formatted for the ``Last-Modified`` header.
    """

    created: datetime
    data: bytes
    etag: str
    last_modified: str

    @classmethod
    def of(cls, created: datetime, data: bytes) -> CachedFile:
        """Build one from a stored row, computing the headers."""
        return cls(
            created=created,
            data=data,
            etag=f'"{hashlib.sha256(data).hexdigest()}"',
            last_modified=format_last_modified(created),
        )

    def __repr__(self) -> str:
        """Without the bytes."""
        return f"CachedFile(created={self.created!r}, etag={self.etag!r})"


class Chain(NamedTuple):
    """A GUN's current files as one consistent read found them.

    Attributes:
        timestamp: the current timestamp.
        timestamp_expires_ns: its expiry, in Unix nanoseconds.
        snapshot: the snapshot the timestamp names.
        snapshot_expires_ns: its expiry, in Unix nanoseconds.
        checksums: role → SHA-256 (hex) the snapshot names.
    """

    timestamp: CachedFile
    timestamp_expires_ns: int
    snapshot: CachedFile
    snapshot_expires_ns: int
    checksums: Mapping[str, str]

    def expired(self, now: datetime) -> bool:
        """Whether the timestamp or the snapshot has expired (then it must be re-issued)."""
        nanos = unix_nanos(now)
        return self.timestamp_expires_ns < nanos or self.snapshot_expires_ns < nanos

    @property
    def size(self) -> int:
        """Bytes charged against the cache budget."""
        return (
            len(self.timestamp.data)
            + len(self.snapshot.data)
            + 80 * len(self.checksums)
            + 3 * _ENTRY_OVERHEAD
        )


def _plain(file: CachedFile) -> _StoredFile:
    return (file.created, file.data, file.etag, file.last_modified)


class MetadataCache:
    """Immutable files and current chains, bounded by bytes, invalidated per GUN."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        """Start empty; ``max_bytes`` bounds files and chains together."""
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._files: OrderedDict[ImmutableKey, _StoredFile] = OrderedDict()
        self._chains: OrderedDict[str, _StoredChain] = OrderedDict()
        self._checksums: dict[str, dict[str, str]] = {}  # a chain's, by GUN
        self._file_keys: dict[str, dict[ImmutableKey, None]] = {}  # a GUN's files (a set)
        self._bytes = 0
        self._epoch = 0
        self._floor = 0  # fills that read an older epoch are dropped (a flush came since)
        self._invalidated: dict[str, int] = {}  # GUN -> the epoch its invalidation made
        self.hits = 0  # lookups answered from the cache (the console's hit rate, ADR 0026)
        self.misses = 0

    @property
    def epoch(self) -> int:
        """Changes on every invalidation; read it before a database read that will fill."""
        return self._epoch

    @property
    def size_bytes(self) -> int:
        """Bytes currently charged."""
        return self._bytes

    @property
    def free_bytes(self) -> int:
        """Bytes that can still be filled before anything is evicted."""
        return max(0, self._max_bytes - self._bytes)

    @property
    def max_bytes(self) -> int:
        """The budget."""
        return self._max_bytes

    @property
    def chain_count(self) -> int:
        """Current chains held."""
        return len(self._chains)

    @property
    def file_count(self) -> int:
        """Immutable files held."""
        return len(self._files)

    def __len__(self) -> int:
        """Entries held (files and chains)."""
        return len(self._files) + len(self._chains)

    def has_gun(self, gun: str) -> bool:
        """Whether anything of ``gun`` is held (a cheap test before a coherence check)."""
        return gun in self._chains or gun in self._file_keys

    def get_chain(self, gun: str) -> Chain | None:
        """The cached current chain of ``gun``, if any."""
        with self._lock:
            stored = self._chains.get(gun)
            if stored is None:
                self.misses += 1
                return None
            self.hits += 1
            self._chains.move_to_end(gun)
            checksums = self._checksums[gun]
        timestamp, timestamp_expires_ns, snapshot, snapshot_expires_ns, _ = stored
        return Chain(
            CachedFile._make(timestamp),
            timestamp_expires_ns,
            CachedFile._make(snapshot),
            snapshot_expires_ns,
            checksums,
        )

    def put_chain(self, gun: str, chain: Chain, epoch: int) -> None:
        """Store ``chain`` unless ``gun`` was invalidated since ``epoch`` was read."""
        self.put_chains({gun: chain}, epoch)

    def put_chains(self, chains: Mapping[str, Chain], epoch: int) -> int:
        """Store each chain whose GUN was not invalidated since ``epoch``; return how many."""
        stored = 0
        with self._lock:
            for gun, chain in chains.items():
                if not self._may_fill(gun, epoch):
                    continue
                old = self._chains.pop(gun, None)
                if old is not None:
                    self._bytes -= old[-1]
                size = chain.size
                self._chains[gun] = (
                    _plain(chain.timestamp),
                    chain.timestamp_expires_ns,
                    _plain(chain.snapshot),
                    chain.snapshot_expires_ns,
                    size,
                )
                self._checksums[gun] = dict(chain.checksums)
                self._bytes += size
                stored += 1
            self._evict()
        return stored

    def get_file(self, key: ImmutableKey) -> CachedFile | None:
        """A cached immutable file, if any."""
        with self._lock:
            found = self._files.get(key)
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            self._files.move_to_end(key)
        return CachedFile._make(found)

    def put_file(self, key: ImmutableKey, file: CachedFile, epoch: int) -> None:
        """Store an immutable file unless something was invalidated since ``epoch``."""
        with self._lock:
            if key in self._files or not self._may_fill(key[0], epoch):
                return
            self._files[key] = _plain(file)
            self._file_keys.setdefault(key[0], {})[key] = None
            self._bytes += len(file.data) + _ENTRY_OVERHEAD
            self._evict()

    def invalidate(self, gun: str) -> None:
        """Forget everything of ``gun`` (it was written, deleted or purged)."""
        with self._lock:
            self._epoch += 1
            if len(self._invalidated) >= MAX_TRACKED_INVALIDATIONS:
                self._forget_invalidations()
            self._invalidated[gun] = self._epoch
            chain = self._chains.pop(gun, None)
            if chain is not None:
                self._bytes -= chain[-1]
                del self._checksums[gun]
            for key in self._file_keys.pop(gun, ()):
                file = self._files.pop(key)
                self._bytes -= len(file[1]) + _ENTRY_OVERHEAD

    def flush(self) -> None:
        """Forget everything (a change of unknown scope, or coherence was lost)."""
        with self._lock:
            self._epoch += 1
            self._forget_invalidations()
            self._files.clear()
            self._chains.clear()
            self._checksums.clear()
            self._file_keys.clear()
            self._bytes = 0

    def _may_fill(self, gun: str, epoch: int) -> bool:
        # Called with the lock held. An invalidation records the epoch it made,
        # which is above any epoch read before it.
        return epoch >= self._floor and self._invalidated.get(gun, 0) <= epoch

    def _forget_invalidations(self) -> None:
        # Called with the lock held: fills begun before now can no longer be checked.
        self._floor = self._epoch
        self._invalidated.clear()

    def _evict(self) -> None:
        # Called with the lock held: drop the least recently used entry of
        # whichever kind holds more entries until the budget is met.
        while self._bytes > self._max_bytes and (self._files or self._chains):
            if self._files and (not self._chains or len(self._files) >= len(self._chains)):
                key, file = self._files.popitem(last=False)
                keys = self._file_keys.get(key[0])
                if keys is not None:
                    keys.pop(key, None)
                    if not keys:
                        del self._file_keys[key[0]]
                self._bytes -= len(file[1]) + _ENTRY_OVERHEAD
            else:
                gun, chain = self._chains.popitem(last=False)
                del self._checksums[gun]
                self._bytes -= chain[-1]
