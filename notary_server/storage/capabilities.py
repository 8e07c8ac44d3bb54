"""What stores offer beyond Go's contract, one small protocol per concern (ADR 0031).

:class:`~notary_server.storage.base.MetaStore` is Go's ``storage.MetaStore``.
Each protocol here is one capability beyond it, named for what its consumers
need: the cache warmer and the update path read in bulk (:class:`BulkReads`),
operator tooling lists (:class:`Inventory`) and prunes (:class:`Pruning`),
the audit log is its own (:class:`AuditLog`), and the process that opened a
store checks and closes it (:class:`Lifecycle`). The cache's change tracking
is :class:`~notary_server.storage.notify.TracksChanges`, beside the trackers.

A consumer is typed against the narrowest of these it needs (a module that
needs several declares their combination next to its code). The three backends
implement every one (:class:`Backend`); ``tests/server/storage/test_capabilities.py``
checks each of them against each protocol.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from notary_server.storage import NotFoundError
from notary_server.storage.base import MetaStore
from notary_server.storage.notify import TracksChanges

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Sequence

    from notary_server.storage.base import AuditEvent, FileInfo, StoredMeta

__all__ = [
    "AuditLog",
    "Backend",
    "BulkReads",
    "Inventory",
    "Lifecycle",
    "OneAtATime",
    "Pruning",
]

_K = TypeVar("_K")


@runtime_checkable
class BulkReads(Protocol):
    """Many current files in one call: the cache warmer, the update path, the console.

    Each answer is what the single-file reads of
    :class:`~notary_server.storage.base.MetaStore` would give, file by file;
    PostgreSQL answers each call in one query.
    """

    async def guns_recent_first(self) -> list[str]:
        """At least every GUN with a timestamp; the most recently updated first where it can tell.

        Raises:
            StorageError: the store failed or cannot list repositories.
        """
        ...

    async def get_current_roles(self, gun: str, roles: Sequence[str]) -> dict[str, StoredMeta]:
        """The highest version of each of ``roles`` of ``gun`` that has one.

        Each value is what ``get_current`` returns for that role.

        Raises:
            StorageError: the store failed.
        """
        ...

    async def get_current_many(self, role: str, guns: Sequence[str]) -> dict[str, StoredMeta]:
        """The highest version of ``role`` for each of ``guns`` that has one.

        Raises:
            StorageError: the store failed.
        """
        ...

    async def get_checksum_many(
        self, role: str, wanted: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredMeta]:
        """The file of ``role`` for each ``(gun, SHA-256 hex)`` in ``wanted`` that exists.

        Raises:
            StorageError: the store failed.
        """
        ...


@runtime_checkable
class Inventory(Protocol):
    """What a store holds, without the bytes: admin commands, the console, maintenance."""

    async def list_guns(self) -> list[str]:
        """Return every GUN with at least one stored file, sorted.

        Raises:
            StorageError: the store failed.
        """
        ...

    async def list_guns_page(
        self, *, prefix: str = "", after: str | None = None, limit: int, descending: bool = False
    ) -> list[str]:
        """One page of GUNs starting with ``prefix``, after ``after`` in name order (keyset).

        ``after`` is the last GUN of the previous page (None: the first page);
        with ``descending`` the order and the meaning of "after" are reversed.

        Raises:
            StorageError: the store failed.
        """
        ...

    async def list_files(self, gun: str) -> list[FileInfo]:
        """Return every stored file of the GUN without its bytes, by role then version.

        Raises:
            StorageError: the store failed.
        """
        ...


@runtime_checkable
class Pruning(Protocol):
    """Deleting old versions outside the changefeed: retention only (admin ``gc``, maintenance)."""

    async def delete_versions(self, gun: str, versions: Sequence[tuple[str, int]]) -> int:
        """Delete the given (role, version) files of the GUN; no changefeed record.

        Returns:
            How many files were deleted (absent ones are skipped).

        Raises:
            StorageError: the store failed.
        """
        ...


@runtime_checkable
class AuditLog(Protocol):
    """The ``audit_log``: what is not a changefeed record (rotations, purges, gc, imports)."""

    async def record_audit(self, event: AuditEvent) -> None:
        """Append to the audit log; a schema without ``audit_log`` records nothing.

        Raises:
            StorageError: the store failed.
        """
        ...

    async def get_audit(self, gun: str, limit: int = 50) -> list[AuditEvent]:
        """Return the newest ``limit`` audit records of the GUN, oldest first.

        Raises:
            StorageError: the store failed.
        """
        ...


@runtime_checkable
class Lifecycle(Protocol):
    """What the opener of a store does with it besides reading: check its health, close it."""

    async def check_health(self) -> None:
        """Fail when the store cannot serve (Go's SQL stores: the ``tuf_files`` table exists).

        Raises:
            StorageError: the store is unusable.
        """
        ...

    async def close(self) -> None:
        """Release connections and threads; the store is unusable afterwards."""
        ...


@runtime_checkable
class Backend(
    MetaStore, BulkReads, Inventory, Pruning, AuditLog, Lifecycle, TracksChanges, Protocol
):
    """Everything: what each backend implements, ``open_store`` returns and the app holds."""


class _ReadsOneByOne(MetaStore, Inventory, Protocol):
    """What :class:`OneAtATime` builds on."""


class OneAtATime:
    """Bulk reads and GUN pages for a store without set queries (memory, SQLite).

    A mixin: each bulk read asks the single-file reads of the store, one after
    another, and a page of GUNs is cut from :meth:`Inventory.list_guns`.
    """

    async def guns_recent_first(self: _ReadsOneByOne) -> list[str]:
        """Every GUN in name order: such a store cannot tell which changed last."""
        return await self.list_guns()

    async def get_current_roles(
        self: _ReadsOneByOne, gun: str, roles: Sequence[str]
    ) -> dict[str, StoredMeta]:
        """One ``get_current`` per role."""
        return await _those_found(roles, lambda role: self.get_current(gun, role))

    async def get_current_many(
        self: _ReadsOneByOne, role: str, guns: Sequence[str]
    ) -> dict[str, StoredMeta]:
        """One ``get_current`` per GUN."""
        return await _those_found(guns, lambda gun: self.get_current(gun, role))

    async def get_checksum_many(
        self: _ReadsOneByOne, role: str, wanted: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredMeta]:
        """One ``get_checksum`` per ``(gun, checksum)``."""
        return await _those_found(wanted, lambda key: self.get_checksum(key[0], role, key[1]))

    async def list_guns_page(
        self: _ReadsOneByOne,
        *,
        prefix: str = "",
        after: str | None = None,
        limit: int,
        descending: bool = False,
    ) -> list[str]:
        """A page cut from the sorted :meth:`Inventory.list_guns`."""
        guns = [gun for gun in await self.list_guns() if gun.startswith(prefix)]
        if descending:
            guns.reverse()
            if after is not None:
                guns = [gun for gun in guns if gun < after]
        elif after is not None:
            guns = guns[bisect.bisect_right(guns, after) :]
        return guns[:limit]


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
