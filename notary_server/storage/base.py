"""The metadata store contract (port of Go ``server/storage/interface.go``).

Rows are immutable: an update inserts a new version of a role, never changes
one. Every backend implements :class:`MetaStore`; the behaviour is pinned down
once, by the contract suite in ``tests/server/storage/test_contract.py``.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from notary_tuf.validation import MetaUpdate

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

__all__ = ["Change", "MetaStore", "MetaUpdate", "StoredMeta"]

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
    """

    id: int
    created_at: datetime
    gun: str
    version: int
    sha256: str
    category: str


class MetaStore(abc.ABC):
    """Where the server keeps TUF metadata, keyed by GUN, role and version."""

    @abc.abstractmethod
    async def update_current(self, gun: str, update: MetaUpdate) -> None:
        """Add a new version of a role.

        Raises:
            OldVersionError: a version of the role at least as high is stored.
        """

    @abc.abstractmethod
    async def update_many(self, gun: str, updates: Sequence[MetaUpdate]) -> None:
        """Add several files atomically: all of them or none.

        Several versions of one role may be added at once, as long as each is
        unique and above every stored version of that role. Each timestamp
        added also appends an ``update`` record to the changefeed.

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
    async def delete(self, gun: str) -> None:
        """Delete every file of the GUN (exactly this GUN, not a prefix of others).

        If anything was deleted, a ``deletion`` record is appended to the
        changefeed. Deleting a GUN that does not exist writes nothing and is
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

    async def close(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Release connections and threads; the store is unusable afterwards."""
