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
database read, and is dropped if any invalidation happened since.

All methods are synchronous and short; a lock guards them so that the cache
stays consistent even if a tracker ever calls in from another thread.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from notary_tuf.gotime import GoTime

__all__ = ["DEFAULT_MAX_BYTES", "CachedFile", "Chain", "MetadataCache", "format_last_modified"]

DEFAULT_MAX_BYTES: Final = 128 * 1024 * 1024
"""Bytes of metadata one process keeps (files and chains together)."""

_ENTRY_OVERHEAD: Final = 512
"""Rough per-entry cost of the Python objects around the bytes."""

ImmutableKey = tuple[str, str, str]
"""``(gun, role, "c" + checksum | "v" + version)``."""


def format_last_modified(moment: datetime) -> str:
    """Format a time as Go's ``time.RFC1123`` does for a UTC time (``… UTC``, not ``GMT``)."""
    return moment.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S UTC")


@dataclass(frozen=True, slots=True)
class CachedFile:
    """A metadata file with its response headers precomputed.

    Attributes:
        created: when the row was written (``Last-Modified``).
        data: the exact bytes served.
        etag: the strong ETag, the quoted lowercase hex SHA-256 of ``data``.
        last_modified: ``created`` formatted for the ``Last-Modified`` header.
    """

    created: datetime
    data: bytes = field(repr=False)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Chain:
    """A GUN's current files as one consistent read found them.

    Attributes:
        timestamp: the current timestamp.
        timestamp_expires: its expiry.
        snapshot: the snapshot the timestamp names.
        snapshot_expires: its expiry.
        checksums: role → SHA-256 (hex) the snapshot names.
    """

    timestamp: CachedFile
    timestamp_expires: GoTime
    snapshot: CachedFile
    snapshot_expires: GoTime
    checksums: Mapping[str, str]

    def expired(self, now: datetime) -> bool:
        """Whether the timestamp or the snapshot has expired (then it must be re-issued)."""
        return self.timestamp_expires.is_expired(now) or self.snapshot_expires.is_expired(now)

    @property
    def size(self) -> int:
        """Bytes charged against the cache budget."""
        return (
            len(self.timestamp.data)
            + len(self.snapshot.data)
            + 80 * len(self.checksums)
            + 3 * _ENTRY_OVERHEAD
        )


class MetadataCache:
    """Immutable files and current chains, bounded by bytes, invalidated per GUN."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        """Start empty; ``max_bytes`` bounds files and chains together."""
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._files: OrderedDict[ImmutableKey, CachedFile] = OrderedDict()
        self._chains: OrderedDict[str, Chain] = OrderedDict()
        self._file_keys: dict[str, set[ImmutableKey]] = {}
        self._bytes = 0
        self._epoch = 0

    @property
    def epoch(self) -> int:
        """Changes on every invalidation; read it before a database read that will fill."""
        return self._epoch

    @property
    def size_bytes(self) -> int:
        """Bytes currently charged."""
        return self._bytes

    def __len__(self) -> int:
        """Entries held (files and chains)."""
        return len(self._files) + len(self._chains)

    def has_gun(self, gun: str) -> bool:
        """Whether anything of ``gun`` is held (a cheap test before a coherence check)."""
        return gun in self._chains or gun in self._file_keys

    def get_chain(self, gun: str) -> Chain | None:
        """The cached current chain of ``gun``, if any."""
        with self._lock:
            chain = self._chains.get(gun)
            if chain is not None:
                self._chains.move_to_end(gun)
            return chain

    def put_chain(self, gun: str, chain: Chain, epoch: int) -> None:
        """Store ``chain`` unless something was invalidated since ``epoch`` was read."""
        with self._lock:
            if epoch != self._epoch:
                return
            old = self._chains.pop(gun, None)
            if old is not None:
                self._bytes -= old.size
            self._chains[gun] = chain
            self._bytes += chain.size
            self._evict()

    def get_file(self, key: ImmutableKey) -> CachedFile | None:
        """A cached immutable file, if any."""
        with self._lock:
            found = self._files.get(key)
            if found is not None:
                self._files.move_to_end(key)
            return found

    def put_file(self, key: ImmutableKey, file: CachedFile, epoch: int) -> None:
        """Store an immutable file unless something was invalidated since ``epoch``."""
        with self._lock:
            if epoch != self._epoch or key in self._files:
                return
            self._files[key] = file
            self._file_keys.setdefault(key[0], set()).add(key)
            self._bytes += len(file.data) + _ENTRY_OVERHEAD
            self._evict()

    def invalidate(self, gun: str) -> None:
        """Forget everything of ``gun`` (it was written, deleted or purged)."""
        with self._lock:
            self._epoch += 1
            chain = self._chains.pop(gun, None)
            if chain is not None:
                self._bytes -= chain.size
            for key in self._file_keys.pop(gun, ()):
                file = self._files.pop(key)
                self._bytes -= len(file.data) + _ENTRY_OVERHEAD

    def flush(self) -> None:
        """Forget everything (a change of unknown scope, or coherence was lost)."""
        with self._lock:
            self._epoch += 1
            self._files.clear()
            self._chains.clear()
            self._file_keys.clear()
            self._bytes = 0

    def _evict(self) -> None:
        # Called with the lock held: drop the least recently used entry of
        # whichever kind holds more entries until the budget is met.
        while self._bytes > self._max_bytes and (self._files or self._chains):
            if self._files and (not self._chains or len(self._files) >= len(self._chains)):
                key, file = self._files.popitem(last=False)
                keys = self._file_keys.get(key[0])
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._file_keys[key[0]]
                self._bytes -= len(file.data) + _ENTRY_OVERHEAD
            else:
                _gun, chain = self._chains.popitem(last=False)
                self._bytes -= chain.size
