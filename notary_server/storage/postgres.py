"""The PostgreSQL metadata store on asyncpg (port of Go ``server/storage/sqldb.go``).

It reads and writes Go notary 0.7's schema unchanged (``tuf_files``,
``changefeed``; see ``migrations/server/postgresql``), so a Go server's database can
be served, and the other way round. It does not create or migrate the schema:
that is an explicit step (:func:`notary_server.storage.migrate.migrate_postgres`),
as with Go's golang-migrate.

Differences from Go, all fixes:

* The version check runs inside the write transaction, and a concurrent
  duplicate that reaches the ``UNIQUE (gun, role, version)`` index becomes
  :class:`~notary_server.storage.OldVersionError` (Go maps only MySQL's
  duplicate errors, so on PostgreSQL the loser of a race got a 500).
* ``sha256`` is ``char(64)``; the space padding PostgreSQL adds to the empty
  checksum of deletion records is stripped.
* Times are stored as naive UTC in the ``timestamp`` columns and returned
  aware, in UTC.

Two concurrent writers of *different* new versions of one role may both
succeed (each saw the same older maximum), as in Go; "current" is the highest
version either way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import asyncpg

from notary_server.storage import NotFoundError, OldVersionError, StorageError
from notary_server.storage import postgres_queries as sql
from notary_server.storage._common import (
    TIMESTAMP_ROLE,
    changes_page,
    check_against_stored,
    check_batch,
    sha256_hex,
    utcnow,
    version_fits,
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

if TYPE_CHECKING:
    from collections.abc import Sequence

    from notary_server.cache import MetadataCache
    from notary_server.storage.notify import ChangeTracker
    from notary_tuf.validation import MetaUpdate

__all__ = ["CONNECTION_ERRORS", "PostgresMetaStore", "connect"]

CONNECTION_ERRORS: Final = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # protocol state, e.g. a connection the server closed
)
"""What a failing database or connection raises through asyncpg."""

# What a pooled connection that the server already closed fails with on its
# first use (asyncpg has no ErrBadConn retry like Go's database/sql).
_STALE_CONNECTION_ERRORS: Final = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,  # the backend was terminated
    asyncpg.CrashShutdownError,
    asyncpg.IdleSessionTimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Return a connection to the pool without asyncpg's reset query.

    By default asyncpg sends ``RESET ALL; UNLISTEN *; CLOSE ALL; …`` on every
    release: a second round trip for every one-statement read. This store never
    changes session state (no SET, cursors or advisory locks; the change
    listener unlistens itself), and an open transaction is still rolled back by
    the pool before this is called.
    """


async def connect(dsn: str, *, min_size: int = 2, max_size: int = 20) -> PostgresMetaStore:
    """Open a connection pool to a migrated database.

    Args:
        dsn: a libpq URI, as in Go's ``storage.db_url``
            (``postgres://server@db:5432/notaryserver?sslmode=verify-full``).
        min_size: connections opened up front.
        max_size: most connections held at once (one of them listens for
            changes, see :mod:`notary_server.storage.notify`; 20 lets 16
            concurrent publishes proceed without queueing for a connection).

    Raises:
        StorageError: the database cannot be reached.
    """
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, reset=_keep_session
        )
    except (*CONNECTION_ERRORS, ValueError) as exc:
        raise StorageError(f"cannot connect to PostgreSQL: {exc}") from exc
    return PostgresMetaStore(pool)


class PostgresMetaStore:
    """Metadata in PostgreSQL through one asyncpg pool; build it with :func:`connect`.

    It implements :class:`~notary_server.storage.capabilities.Backend`, every
    capability in set-based queries (:mod:`~notary_server.storage.postgres_queries`).
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Wrap an open pool, which the store then owns and closes."""
        self._pool = pool
        self._audited: bool | None = None  # migration 0004 applied? (checked once)
        self._code_point_order: bool | None = None  # a C collation? (checked once)

    @property
    def pool(self) -> asyncpg.Pool:
        """The pool, for the change listener (:mod:`notary_server.storage.notify`)."""
        return self._pool

    async def update_current(self, gun: str, update: MetaUpdate) -> None:
        """Add a new version of a role.

        Raises:
            OldVersionError: a version of the role at least as high is stored.
            StorageError: the version does not fit, or the database failed.
        """
        await self.update_many(gun, [update])

    async def update_many(
        self, gun: str, updates: Sequence[MetaUpdate], *, audit: Audit | None = None
    ) -> None:
        """Add several files in one transaction: all of them or none.

        Raises:
            OldVersionError: some version is not above the stored versions of
                its role, two updates share a role and version, or a
                concurrent writer stored the same version first.
            StorageError: a version does not fit, or the database failed.
        """
        check_batch(updates)
        if not updates:
            return
        args: list[object] = [
            _naive(utcnow()),
            gun,
            [update.role for update in updates],
            [update.version for update in updates],
            [update.data for update in updates],
            [sha256_hex(update.data) for update in updates],
            UPDATE_CATEGORY,
            TIMESTAMP_ROLE,
        ]
        try:
            if audit is not None and await self._has_audit():
                inserted = await self._pool.fetchval(
                    sql.UPDATE_AUDITED, *args, audit.actor, audit.client_addr
                )
            else:
                inserted = await self._pool.fetchval(sql.UPDATE, *args)
            if inserted == len(updates):
                return
            # Nothing went in: some version is stale. Say which, as Go does.
            roles = sorted({update.role for update in updates})
            stored = {
                row[0]: row[1] for row in await self._pool.fetch(sql.MAX_VERSIONS, gun, roles)
            }
        except asyncpg.UniqueViolationError as exc:
            raise OldVersionError(f"a concurrent update stored the same version: {exc}") from exc
        except CONNECTION_ERRORS as exc:
            raise StorageError(f"storing metadata for {gun} failed: {exc}") from exc
        check_against_stored(updates, stored)
        raise OldVersionError(f"a concurrent update of {gun} stored a newer version")

    async def get_current(self, gun: str, role: str) -> StoredMeta:
        """Return the highest version of a role.

        Raises:
            NotFoundError: the role has no stored version.
            StorageError: the database failed.
        """
        return await self._get_one(sql.SELECT_CURRENT, gun, role)

    async def get_checksum(self, gun: str, role: str, checksum: str) -> StoredMeta:
        """Return the version of a role whose SHA-256 is ``checksum`` (lowercase hex).

        Raises:
            NotFoundError: no such file.
            StorageError: the database failed.
        """
        return await self._get_one(sql.SELECT_CHECKSUM, gun, role, checksum)

    async def get_version(self, gun: str, role: str, version: int) -> StoredMeta:
        """Return a given version of a role.

        Raises:
            NotFoundError: no such version (or it does not fit a 32-bit integer).
            StorageError: the database failed.
        """
        if not version_fits(version):
            raise NotFoundError(f"no {role} version {version} for {gun}")
        return await self._get_one(sql.SELECT_VERSION, gun, role, version)

    async def delete(self, gun: str, *, audit: Audit | None = None) -> None:
        """Delete every file of exactly this GUN; record it if anything was deleted.

        Raises:
            StorageError: the database failed.
        """
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                status = await conn.execute(sql.DELETE_GUN, gun)
                if _affected(status):
                    change = (_naive(utcnow()), gun, 0, "", DELETION_CATEGORY)
                    await self._insert_changes(conn, [change], audit)
        except CONNECTION_ERRORS as exc:
            raise StorageError(f"deleting {gun} failed: {exc}") from exc

    async def get_changes(self, change_id: int, records: int, gun: str | None) -> list[Change]:
        """Return changefeed records, oldest to newest (docs/protocol.md#changefeed).

        ``records == 0`` returns up to 100 records (Go's default page size).

        Raises:
            StorageError: the database failed.
        """
        page = changes_page(change_id, records)
        try:
            if page.backwards:
                rows = await self._pool.fetch(sql.CHANGES_BACKWARD, page.before, page.limit, gun)
                rows.reverse()
            else:
                rows = await self._pool.fetch(sql.CHANGES_FORWARD, page.after, page.limit, gun)
        except CONNECTION_ERRORS as exc:
            raise StorageError(f"reading the changefeed failed: {exc}") from exc
        audits = await self._change_audits([row[0] for row in rows])
        return [
            Change(
                id=row[0],
                created_at=_aware(row[1]),
                gun=row[2],
                version=row[3],
                sha256=(row[4] or "").rstrip(" "),
                category=row[5],
                actor=audits.get(row[0], (None, None))[0],
                client_addr=audits.get(row[0], (None, None))[1],
            )
            for row in rows
        ]

    async def check_health(self) -> None:
        """Fail unless the ``tuf_files`` table can be seen (Go ``CheckHealth``).

        Raises:
            StorageError: the database is unreachable or the table is missing.
        """
        try:
            present = await self._pool.fetchval(sql.HEALTH)
        except CONNECTION_ERRORS as exc:
            raise StorageError(f"PostgreSQL is not available: {exc}") from exc
        if not present:
            raise StorageError("Cannot access table: tuf_files")

    async def guns_recent_first(self) -> list[str]:
        """Every GUN with a timestamp, the most recently updated first.

        Raises:
            StorageError: the database failed.
        """
        return [row[0] for row in await self._fetch(sql.GUNS_RECENT_FIRST)]

    async def get_current_roles(self, gun: str, roles: Sequence[str]) -> dict[str, StoredMeta]:
        """The highest version of each of ``roles`` of ``gun`` that has one, in one query.

        Raises:
            StorageError: the database failed.
        """
        rows = await self._fetch(sql.SELECT_CURRENT_ROLES, gun, list(roles))
        return {row[0]: StoredMeta(created=_aware(row[1]), data=row[2]) for row in rows}

    async def get_current_many(self, role: str, guns: Sequence[str]) -> dict[str, StoredMeta]:
        """The highest version of ``role`` for each of ``guns`` that has one, in one query.

        Raises:
            StorageError: the database failed.
        """
        rows = await self._fetch(sql.SELECT_CURRENT_MANY, list(guns), role)
        return {row[0]: StoredMeta(created=_aware(row[1]), data=row[2]) for row in rows}

    async def get_checksum_many(
        self, role: str, wanted: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredMeta]:
        """The file of ``role`` for each ``(gun, SHA-256 hex)`` that exists, in one query.

        Raises:
            StorageError: the database failed.
        """
        guns = [gun for gun, _ in wanted]
        checksums = [checksum for _, checksum in wanted]
        rows = await self._fetch(sql.SELECT_CHECKSUM_MANY, guns, checksums, role)
        return {(row[0], row[1]): StoredMeta(created=_aware(row[2]), data=row[3]) for row in rows}

    async def list_guns(self) -> list[str]:
        """Return every GUN with a stored file, sorted.

        Raises:
            StorageError: the database failed.
        """
        try:
            return [row[0] for row in await self._pool.fetch(sql.LIST_GUNS)]
        except CONNECTION_ERRORS as exc:
            raise StorageError(f"listing repositories failed: {exc}") from exc

    async def list_guns_page(
        self, *, prefix: str = "", after: str | None = None, limit: int, descending: bool = False
    ) -> list[str]:
        """One keyset page of GUNs in the database's order, read along the ``tuf_files`` index.

        Under a code-point collation (C, C.UTF-8) a prefix also bounds the index
        range, so a search reads only the GUNs it finds.

        Raises:
            StorageError: the database failed.
        """
        try:
            if self._code_point_order is None:
                collation = await self._pool.fetchval(sql.COLLATION)
                self._code_point_order = collation in sql.CODE_POINT_COLLATIONS
            args: list[object] = [prefix, limit]
            if after is not None:
                args.append(after)
            bounded = bool(prefix) and self._code_point_order and ord(prefix[-1]) < 0x10FFFF  # noqa: PLR2004
            if bounded:
                args += [prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)]
            query = sql.guns_page_query(
                after=after is not None, bounded=bounded, descending=descending
            )
            rows = await self._pool.fetch(query, *args)
        except CONNECTION_ERRORS as exc:
            raise StorageError(f"listing repositories failed: {exc}") from exc
        return [row[0] for row in rows]

    async def list_files(self, gun: str) -> list[FileInfo]:
        """Return the GUN's files without their bytes, by role then version.

        Raises:
            StorageError: the database failed.
        """
        try:
            rows = await self._pool.fetch(sql.LIST_FILES, gun)
        except CONNECTION_ERRORS as exc:
            raise StorageError(f"listing files of {gun} failed: {exc}") from exc
        return [
            FileInfo(
                gun=gun,
                role=row[0],
                version=row[1],
                sha256=(row[2] or "").rstrip(" "),
                size=row[3],
                created=_aware(row[4]),
            )
            for row in rows
        ]

    async def delete_versions(self, gun: str, versions: Sequence[tuple[str, int]]) -> int:
        """Delete the given (role, version) files in one transaction; return how many went.

        Raises:
            StorageError: the database failed.
        """
        deleted = 0
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                for role, version in versions:
                    deleted += _affected(await conn.execute(sql.DELETE_VERSION, gun, role, version))
        except CONNECTION_ERRORS as exc:
            raise StorageError(f"deleting old versions of {gun} failed: {exc}") from exc
        return deleted

    async def record_audit(self, event: AuditEvent) -> None:
        """Append to ``audit_log``; without migration 0004 nothing is recorded.

        Raises:
            StorageError: the database failed.
        """
        try:
            if not await self._has_audit():
                return
            await self._pool.execute(
                sql.INSERT_AUDIT,
                _naive(event.created_at),
                event.gun,
                event.action,
                event.detail,
                event.actor,
                event.client_addr,
            )
        except CONNECTION_ERRORS as exc:
            raise StorageError(f"recording an audit event failed: {exc}") from exc

    async def get_audit(self, gun: str, limit: int = 50) -> list[AuditEvent]:
        """Return the newest ``limit`` audit records of the GUN, oldest first.

        Raises:
            StorageError: the database failed.
        """
        try:
            if not await self._has_audit():
                return []
            rows = await self._pool.fetch(sql.SELECT_AUDIT, gun, limit)
        except CONNECTION_ERRORS as exc:
            raise StorageError(f"reading the audit log failed: {exc}") from exc
        return [
            AuditEvent(
                id=row[0],
                created_at=_aware(row[1]),
                gun=row[2],
                action=row[3],
                detail=row[4],
                actor=row[5],
                client_addr=row[6],
            )
            for row in reversed(rows)
        ]

    async def _has_audit(self) -> bool:
        # Only a positive answer is kept: migrating a running server's database
        # starts the recording without a restart.
        if not self._audited:
            self._audited = bool(await self._pool.fetchval(sql.HAS_AUDIT))
        return self._audited

    async def _insert_changes(
        self,
        conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
        changes: list[tuple[datetime, str, int, str, str]],
        audit: Audit | None,
    ) -> None:
        if audit is not None and await self._has_audit():
            audited = [(*change, audit.actor, audit.client_addr) for change in changes]
            await conn.executemany(sql.INSERT_CHANGE_AUDITED, audited)
        else:
            await conn.executemany(sql.INSERT_CHANGE, changes)

    async def _change_audits(self, ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
        if not ids or not await self._has_audit():
            return {}
        try:
            rows = await self._pool.fetch(sql.CHANGE_AUDIT, ids)
        except CONNECTION_ERRORS as exc:
            raise StorageError(f"reading the changefeed failed: {exc}") from exc
        return {row[0]: (row[1], row[2]) for row in rows if row[1] is not None}

    async def open_change_tracker(self, cache: MetadataCache) -> ChangeTracker | None:
        """``LISTEN`` for migration 0003's notifications (None without its trigger)."""
        # Imported here: the tracker module imports this one (CONNECTION_ERRORS).
        from notary_server.storage.notify_postgres import open_postgres_tracker  # noqa: PLC0415

        return await open_postgres_tracker(self._pool, cache)

    async def close(self) -> None:
        """Close the pool, waiting for connections in use to be released."""
        await self._pool.close()

    async def _get_one(self, query: str, *args: object) -> StoredMeta:
        rows = await self._fetch(query, *args)
        if not rows:
            raise NotFoundError(f"no such metadata: {args!r}")
        return StoredMeta(created=_aware(rows[0][0]), data=rows[0][1])

    async def _fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        try:
            try:
                return await self._pool.fetch(query, *args)
            except _STALE_CONNECTION_ERRORS:
                # The pooled connection died (a restart, a terminated backend)
                # before the client noticed: a read is safe to try once more,
                # on a connection the pool opens afresh.
                return await self._pool.fetch(query, *args)
        except CONNECTION_ERRORS as exc:
            raise StorageError(f"reading metadata failed: {exc}") from exc


def _naive(moment: datetime) -> datetime:
    """UTC wall time for Go's ``timestamp`` (without time zone) columns."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime | None) -> datetime:
    # created_at is nullable in Go's schema; rows written by either server have it.
    if moment is None:
        return datetime.fromtimestamp(0, UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _affected(status: str) -> int:
    """Rows affected, from a command tag such as ``DELETE 3``."""
    return int(status.rsplit(" ", 1)[-1])
