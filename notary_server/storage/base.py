"""The metadata store contract (port of Go ``server/storage/interface.go``).

Rows are immutable: an update inserts a new version of a role, never changes
one. :class:`MetaStore` is Go's interface; what stores offer beyond it (bulk
reads, listings, the audit log, health and closing, change tracking) are the
capability protocols of :mod:`notary_server.storage.capabilities` and
:class:`~notary_server.storage.notify.TracksChanges` (ADR 0031). Every backend
implements all of them; the behaviour is pinned down once, by the contract
suite in ``tests/server/storage/test_contract.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from notary_tuf.validation import MetaUpdate

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

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


@runtime_checkable
class MetaStore(Protocol):
    """Go's ``storage.MetaStore``: TUF metadata keyed by GUN, role and version.

    What the publish path, the metadata GET routes, DELETE and the changefeed
    need. Everything else a store offers is a capability protocol of its own
    (:mod:`notary_server.storage.capabilities`, ADR 0031).
    """

    async def update_current(self, gun: str, update: MetaUpdate) -> None:
        """Add a new version of a role.

        Raises:
            OldVersionError: a version of the role at least as high is stored.
        """
        ...

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
        ...

    async def get_current(self, gun: str, role: str) -> StoredMeta:
        """Return the highest version of a role.

        Raises:
            NotFoundError: the role has no stored version.
        """
        ...

    async def get_checksum(self, gun: str, role: str, checksum: str) -> StoredMeta:
        """Return the version of a role whose SHA-256 is ``checksum`` (lowercase hex).

        Raises:
            NotFoundError: no such file.
        """
        ...

    async def get_version(self, gun: str, role: str, version: int) -> StoredMeta:
        """Return a given version of a role.

        Raises:
            NotFoundError: no such version.
        """
        ...

    async def delete(self, gun: str, *, audit: Audit | None = None) -> None:
        """Delete every file of the GUN (exactly this GUN, not a prefix of others).

        If anything was deleted, a ``deletion`` record (with ``audit``) is
        appended to the changefeed. Deleting a GUN that does not exist writes nothing and is
        not an error.
        """
        ...

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
        ...
