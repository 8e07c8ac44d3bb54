"""The metadata store contract (port of Go ``server/storage/interface.go``).

Rows are immutable: an update inserts a new version of a role, never changes
one. Every backend implements :class:`MetaStore`; the behaviour is pinned down
once, by the contract suite in ``tests/server/storage/test_contract.py``.
"""

from __future__ import annotations

import abc
import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from notary_server.storage import NotFoundError, StorageError
from notary_tuf.validation import MetaUpdate

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence
    from datetime import datetime

    from notary_server.cache import MetadataCache
    from notary_server.storage.notify import ChangeTracker

_K = TypeVar("_K")

__all__ = [
    "Audit",
    "AuditEvent",
    "Change",
    "FileInfo",
    "MetaStore",
    "MetaUpdate",
    "StoredMeta",
]

UPDATE_CATEGORY = "update"
DELETION_CATEGORY = "deletion"


@dataclass(frozen=True, slots=True)
class StoredMeta:
    """A stored metadata file and when it was written.

    Attributes:
        created: when the row was inserted (aware, UTC).
        data: the exact bytes served to clients.
    """

    created: datetime
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """One changefeed record (Go ``storage.Change``).

    Attributes:
        id: the record's position in the feed.
        created_at: when it was recorded (aware, UTC).
        gun: the repository it concerns.
        version: the timestamp version published (0 for a deletion).
        sha256: the timestamp's checksum ("" for a deletion).
        category: ``update`` or ``deletion``.
        actor: who caused it (beyond Go; None when not recorded).
        client_addr: from where (beyond Go; None when not recorded).
    """

    id: int
    created_at: datetime
    gun: str
    version: int
    sha256: str
    category: str
    actor: str | None = None
    client_addr: str | None = None


@dataclass(frozen=True, slots=True)
class Audit:
    """Who asked for a write, recorded beside it (beyond Go, migration 0004).

    Attributes:
        actor: the token subject, ``anonymous``, or ``admin:<user>`` for the CLI.
        client_addr: the client's address, or None when there is none.
    """

    actor: str
    client_addr: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FileInfo:
    """One stored file, without its bytes (for listings and retention).

    Attributes:
        gun: the repository.
        role: the role.
        version: its version.
        sha256: lowercase hex checksum of the bytes.
        size: length of the bytes.
        created: when it was stored (aware, UTC).
    """

    gun: str
    role: str
    version: int
    sha256: str
    size: int
    created: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One ``audit_log`` record: an action that is not a changefeed record.

    Attributes:
        id: position in the log (0 before it is stored).
        created_at: when it happened (aware, UTC).
        gun: the repository, or "" for actions on the whole store.
        action: ``key-rotation``, ``purge``, ``gc``, ``import``.
        detail: free text (role and key ID, counts).
        actor: who did it.
        client_addr: from where, if known.
    """

    id: int = 0
    created_at: datetime
    gun: str
    action: str
    detail: str
    actor: str
    client_addr: str | None = None


class MetaStore(abc.ABC):
    """Where the server keeps TUF metadata, keyed by GUN, role and version."""

    @abc.abstractmethod
    async def update_current(self, gun: str, update: MetaUpdate) -> None:
        """Add a new version of a role.

        Raises:
            OldVersionError: a version of the role at least as high is stored.
        """

    @abc.abstractmethod
    async def update_many(
        self, gun: str, updates: Sequence[MetaUpdate], *, audit: Audit | None = None
    ) -> None:
        """Add several files atomically: all of them or none.

        Several versions of one role may be added at once, as long as each is
        unique and above every stored version of that role. Each timestamp
        added also appends an ``update`` record to the changefeed, carrying
        ``audit`` when the schema has the audit columns.

        Raises:
            OldVersionError: some update's version is not above the stored
                versions of its role, or two updates share a role and version.
                Nothing is written.
        """

    @abc.abstractmethod
    async def get_current(self, gun: str, role: str) -> StoredMeta:
        """Return the highest version of a role.

        Raises:
            NotFoundError: the role has no stored version.
        """

    @abc.abstractmethod
    async def get_checksum(self, gun: str, role: str, checksum: str) -> StoredMeta:
        """Return the version of a role whose SHA-256 is ``checksum`` (lowercase hex).

        Raises:
            NotFoundError: no such file.
        """

    @abc.abstractmethod
    async def get_version(self, gun: str, role: str, version: int) -> StoredMeta:
        """Return a given version of a role.

        Raises:
            NotFoundError: no such version.
        """

    @abc.abstractmethod
    async def delete(self, gun: str, *, audit: Audit | None = None) -> None:
        """Delete every file of the GUN (exactly this GUN, not a prefix of others).

        If anything was deleted, a ``deletion`` record (with ``audit``) is
        appended to the changefeed. Deleting a GUN that does not exist writes nothing and is
        not an error.
        """

    @abc.abstractmethod
    async def get_changes(self, change_id: int, records: int, gun: str | None) -> list[Change]:
        """Return changefeed records, always ordered oldest to newest.

        Args:
            change_id: the last record the caller has seen; 0 starts at the
                beginning, and a negative value (or negative ``records``) reads
                backwards from the newest record.
            records: how many records at most; negative reads backwards; 0
                means 100 (Go's default page size, applied by every store so
                that callers need not).
            gun: only records of this GUN, or all when None.
        """

    @abc.abstractmethod
    async def check_health(self) -> None:
        """Fail when the store cannot serve (Go: the ``tuf_files`` table exists).

        Raises:
            StorageError: the store is unusable.
        """

    # Bulk reads for the cache warmer and the update path (beyond Go). Concrete:
    # these defaults ask the single-file methods; PostgreSQL answers each call
    # in one query.

    async def guns_recent_first(self) -> list[str]:
        """At least every GUN with a timestamp; the most recently updated first where it can tell.

        The default lists every GUN in name order.

        Raises:
            StorageError: the store failed or cannot list repositories.
        """
        return await self.list_guns()

    async def get_current_roles(self, gun: str, roles: Sequence[str]) -> dict[str, StoredMeta]:
        """The highest version of each of ``roles`` of ``gun`` that has one.

        Each value is what :meth:`get_current` returns for that role.

        Raises:
            StorageError: the store failed.
        """
        return await _those_found(roles, lambda role: self.get_current(gun, role))

    async def get_current_many(self, role: str, guns: Sequence[str]) -> dict[str, StoredMeta]:
        """The highest version of ``role`` for each of ``guns`` that has one.

        Raises:
            StorageError: the store failed.
        """
        return await _those_found(guns, lambda gun: self.get_current(gun, role))

    async def get_checksum_many(
        self, role: str, wanted: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredMeta]:
        """The file of ``role`` for each ``(gun, SHA-256 hex)`` in ``wanted`` that exists.

        Raises:
            StorageError: the store failed.
        """
        return await _those_found(wanted, lambda key: self.get_checksum(key[0], role, key[1]))

    # Operator tooling (beyond Go). Concrete, so that a store without them
    # still serves; the three backends implement them all.

    async def list_guns(self) -> list[str]:
        """Return every GUN with at least one stored file, sorted.

        Raises:
            StorageError: the store failed or does not support it.
        """
        raise StorageError(f"{type(self).__name__} cannot list repositories")

    async def list_guns_page(
        self, *, prefix: str = "", after: str | None = None, limit: int, descending: bool = False
    ) -> list[str]:
        """One page of GUNs starting with ``prefix``, after ``after`` in name order (keyset).

        ``after`` is the last GUN of the previous page (None: the first page);
        with ``descending`` the order and the meaning of "after" are reversed.
        The default sorts :meth:`list_guns`; PostgreSQL answers from its index.

        Raises:
            StorageError: the store failed or cannot list repositories.
        """
        guns = [gun for gun in await self.list_guns() if gun.startswith(prefix)]
        if descending:
            guns.reverse()
            if after is not None:
                guns = [gun for gun in guns if gun < after]
        elif after is not None:
            guns = guns[bisect.bisect_right(guns, after) :]
        return guns[:limit]

    async def list_files(self, gun: str) -> list[FileInfo]:  # noqa: ARG002
        """Return every stored file of the GUN without its bytes, by role then version.

        Raises:
            StorageError: the store failed or does not support it.
        """
        raise StorageError(f"{type(self).__name__} cannot list files")

    async def delete_versions(self, gun: str, versions: Sequence[tuple[str, int]]) -> int:  # noqa: ARG002
        """Delete the given (role, version) files of the GUN; no changefeed record.

        Returns:
            How many files were deleted (absent ones are skipped).

        Raises:
            StorageError: the store failed or does not support it.
        """
        raise StorageError(f"{type(self).__name__} cannot delete versions")

    async def record_audit(self, event: AuditEvent) -> None:  # noqa: B027 - optional
        """Append to the audit log; a schema without ``audit_log`` records nothing.

        Raises:
            StorageError: the store failed.
        """

    async def get_audit(self, gun: str, limit: int = 50) -> list[AuditEvent]:  # noqa: ARG002
        """Return the newest ``limit`` audit records of the GUN, oldest first.

        Raises:
            StorageError: the store failed.
        """
        return []

    async def open_change_tracker(self, cache: MetadataCache) -> ChangeTracker | None:
        """Start applying this store's committed changes to ``cache`` (issue #8).

        The default: None, a store that cannot announce its changes (memory);
        the caller then validates cached entries against the store itself.
        """
        del cache
        return None

    async def close(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release connections and threads; the store is unusable afterwards."""


async def _those_found(
    keys: Iterable[_K], read: Callable[[_K], Awaitable[StoredMeta]]
) -> dict[_K, StoredMeta]:
    """``read(key)`` for each key, one after another, leaving out those not found."""
    found: dict[_K, StoredMeta] = {}
    for key in keys:
        try:
            found[key] = await read(key)
        except NotFoundError:
            continue
    return found
