"""The in-memory metadata store, the reference implementation (Go ``server/storage/memory.go``).

It is what the handler tests run against and what ``storage.backend =
"memory"`` serves; nothing survives a restart. It keeps Go's semantics with
two deliberate differences, both of which make it agree with the SQL stores:

* :meth:`MemoryMetaStore.delete` deletes exactly the GUN. Go deletes every
  key with the GUN as a string prefix, so deleting ``foo`` also deleted
  ``foobar`` (docs/protocol.md#deleting-a-repository).
* :meth:`MemoryMetaStore.get_checksum` looks the checksum up under the
  requested role. Go's memory store ignores the role.
"""

from __future__ import annotations

import asyncio
import bisect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from notary_server.storage import NotFoundError
from notary_server.storage._common import (
    TIMESTAMP_ROLE,
    changes_page,
    check_against_stored,
    check_batch,
    sha256_hex,
    utcnow,
)
from notary_server.storage.base import (
    DELETION_CATEGORY,
    UPDATE_CATEGORY,
    Audit,
    AuditEvent,
    Change,
    FileInfo,
    StoredMeta,
)
from notary_server.storage.capabilities import OneAtATime

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from notary_server.cache import MetadataCache
    from notary_server.storage.notify import ChangeTracker
    from notary_tuf.validation import MetaUpdate

__all__ = ["MemoryMetaStore"]


@dataclass(frozen=True, slots=True)
class _Row:
    version: int
    checksum: str
    created: datetime
    data: bytes = field(repr=False)


class MemoryMetaStore(OneAtATime):
    """Metadata in dictionaries, guarded by an :class:`asyncio.Lock` for writes.

    It implements :class:`~notary_server.storage.capabilities.Backend`: every
    capability, the bulk reads and GUN pages one item at a time.

    Reads need no lock: every method runs on the event loop and none awaits
    between reading and returning, so a read never sees half a write.
    """

    def __init__(self) -> None:
        """Start empty."""
        # (gun, role) -> rows sorted by version
        self._files: dict[tuple[str, str], list[_Row]] = {}
        self._changes: list[Change] = []
        self._audit: list[AuditEvent] = []
        self._lock = asyncio.Lock()

    async def update_current(self, gun: str, update: MetaUpdate) -> None:
        """Add a new version of a role.

        Raises:
            OldVersionError: a version of the role at least as high is stored.
            StorageError: the version does not fit a 32-bit integer.
        """
        await self.update_many(gun, [update])

    async def update_many(
        self, gun: str, updates: Sequence[MetaUpdate], *, audit: Audit | None = None
    ) -> None:
        """Add several files atomically: all of them or none.

        Raises:
            OldVersionError: some version is not above the stored versions of
                its role, or two updates share a role and version.
            StorageError: a version does not fit a 32-bit integer.
        """
        check_batch(updates)
        async with self._lock:
            stored = {
                u.role: rows[-1].version
                for u in updates
                if (rows := self._files.get((gun, u.role)))
            }
            check_against_stored(updates, stored)
            now = utcnow()
            for update in updates:
                checksum = sha256_hex(update.data)
                rows = self._files.setdefault((gun, update.role), [])
                bisect.insort(rows, _Row(update.version, checksum, now, update.data), key=_version)
                if update.role == TIMESTAMP_ROLE:
                    self._append_change(
                        gun, update.version, checksum, UPDATE_CATEGORY, now, audit=audit
                    )

    async def get_current(self, gun: str, role: str) -> StoredMeta:
        """Return the highest version of a role.

        Raises:
            NotFoundError: the role has no stored version.
        """
        rows = self._files.get((gun, role))
        if not rows:
            raise NotFoundError(f"no {role} for {gun}")
        return _stored(rows[-1])

    async def get_checksum(self, gun: str, role: str, checksum: str) -> StoredMeta:
        """Return the version of a role whose SHA-256 is ``checksum``.

        Raises:
            NotFoundError: no such file.
        """
        for row in self._files.get((gun, role), ()):
            if row.checksum == checksum:
                return _stored(row)
        raise NotFoundError(f"no {role} with checksum {checksum} for {gun}")

    async def get_version(self, gun: str, role: str, version: int) -> StoredMeta:
        """Return a given version of a role.

        Raises:
            NotFoundError: no such version.
        """
        for row in self._files.get((gun, role), ()):
            if row.version == version:
                return _stored(row)
        raise NotFoundError(f"no {role} version {version} for {gun}")

    async def delete(self, gun: str, *, audit: Audit | None = None) -> None:
        """Delete every file of exactly this GUN; record it if anything was deleted."""
        async with self._lock:
            keys = [key for key in self._files if key[0] == gun]
            for key in keys:
                del self._files[key]
            if keys:
                self._append_change(gun, 0, "", DELETION_CATEGORY, utcnow(), audit=audit)

    async def get_changes(self, change_id: int, records: int, gun: str | None) -> list[Change]:
        """Return changefeed records, oldest to newest (docs/protocol.md#changefeed).

        ``records == 0`` returns up to 100 records (Go's default page size).
        """
        page = changes_page(change_id, records)
        if page.backwards:
            found: list[Change] = []
            for change in reversed(self._changes):
                if len(found) == page.limit:
                    break
                if page.before is not None and change.id >= page.before:
                    continue
                if gun is None or change.gun == gun:
                    found.append(change)
            found.reverse()
            return found
        # Change IDs are positions in the list plus one, as in Go.
        selected = self._changes[max(page.after, 0) :]
        if gun is not None:
            selected = [change for change in selected if change.gun == gun]
        return selected[: page.limit]

    async def check_health(self) -> None:
        """Always healthy: memory cannot become unreachable."""

    async def close(self) -> None:
        """Nothing to release."""

    async def open_change_tracker(self, cache: MetadataCache) -> ChangeTracker | None:
        """None: one process, no announcements; the reader validates against the store."""
        del cache
        return None

    async def list_guns(self) -> list[str]:
        """Return every GUN with a stored file, sorted."""
        return sorted({gun for gun, _ in self._files})

    async def list_files(self, gun: str) -> list[FileInfo]:
        """Return the GUN's files without bytes, by role then version."""
        return [
            FileInfo(
                gun=gun,
                role=role,
                version=row.version,
                sha256=row.checksum,
                size=len(row.data),
                created=row.created,
            )
            for (owner, role), rows in sorted(self._files.items())
            if owner == gun
            for row in rows
        ]

    async def delete_versions(self, gun: str, versions: Sequence[tuple[str, int]]) -> int:
        """Delete the given (role, version) files; return how many went."""
        wanted = set(versions)
        deleted = 0
        async with self._lock:
            for role in {role for role, _ in wanted}:
                rows = self._files.get((gun, role), [])
                kept = [row for row in rows if (role, row.version) not in wanted]
                deleted += len(rows) - len(kept)
                if kept:
                    self._files[(gun, role)] = kept
                else:
                    self._files.pop((gun, role), None)
        return deleted

    async def record_audit(self, event: AuditEvent) -> None:
        """Append to the in-memory audit log."""
        self._audit.append(
            AuditEvent(
                id=len(self._audit) + 1,
                created_at=event.created_at,
                gun=event.gun,
                action=event.action,
                detail=event.detail,
                actor=event.actor,
                client_addr=event.client_addr,
            )
        )

    async def get_audit(self, gun: str, limit: int = 50) -> list[AuditEvent]:
        """Return the newest ``limit`` audit records of the GUN, oldest first."""
        return [event for event in self._audit if event.gun == gun][-limit:] if limit > 0 else []

    def _append_change(
        self,
        gun: str,
        version: int,
        checksum: str,
        category: str,
        now: datetime,
        *,
        audit: Audit | None = None,
    ) -> None:
        self._changes.append(
            Change(
                id=len(self._changes) + 1,
                created_at=now,
                gun=gun,
                version=version,
                sha256=checksum,
                category=category,
                actor=audit.actor if audit is not None else None,
                client_addr=audit.client_addr if audit is not None else None,
            )
        )


def _version(row: _Row) -> int:
    return row.version


def _stored(row: _Row) -> StoredMeta:
    return StoredMeta(created=row.created, data=row.data)
