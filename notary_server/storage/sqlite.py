"""The SQLite metadata store: stdlib :mod:`sqlite3` on one dedicated thread.

Port of Go ``server/storage/sqldb.go`` as Go runs it with the ``sqlite3``
backend. The schema is the one gorm creates for Go (``migrations/server/sqlite``), so
a Go server's database file can be served and the other way round; times are
stored as text in go-sqlite3's layout and read back in any of its layouts.

Every call runs on a single worker thread that owns the only connection
(ADR 0004; :class:`notary_runtime.sqlite.SqliteWorker`), so the event loop
never blocks on the database and the connection is never shared between
threads. Writes use ``BEGIN IMMEDIATE``, which takes the write lock before the
version check; other processes on the same file (a second server) wait up to
the busy timeout.

A database without any table is given the current schema when opened (the
embedded default should work out of the box); an existing database is served
as it is and migrated only on request (:mod:`notary_server.storage.migrate`).
"""

from __future__ import annotations

import functools
import re
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Final

from notary_runtime.sqlite import (
    DEFAULT_BUSY_TIMEOUT_MS,
    SqliteTarget,
    SqliteWorker,
    format_go_time,
    has_no_tables,
)
from notary_runtime.sqlite import parse_sqlite_url as _parse_sqlite_url
from notary_server.storage import NotFoundError, OldVersionError, StorageError
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
from notary_server.storage.capabilities import OneAtATime
from notary_server.storage.migrate import migrate_sqlite_connection

if TYPE_CHECKING:
    from collections.abc import Sequence

    from notary_server.cache import MetadataCache
    from notary_server.storage.notify import ChangeTracker
    from notary_tuf.validation import MetaUpdate

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_MS",
    "SqliteMetaStore",
    "format_go_time",
    "open_sqlite",
    "parse_go_time",
    "parse_sqlite_url",
]

_MAX_VERSION: Final = """
SELECT max(version) FROM tuf_files WHERE gun = ? AND role = ? AND deleted_at IS NULL
"""
_INSERT_FILE: Final = """
INSERT INTO tuf_files (created_at, updated_at, deleted_at, gun, role, version, sha256, data)
VALUES (?, ?, NULL, ?, ?, ?, ?, ?)
"""
_INSERT_CHANGE: Final = """
INSERT INTO changefeed (created_at, gun, version, sha256, category) VALUES (?, ?, ?, ?, ?)
"""
_SELECT_CURRENT: Final = """
SELECT coalesce(updated_at, created_at), data FROM tuf_files
WHERE gun = ? AND role = ? AND deleted_at IS NULL ORDER BY version DESC LIMIT 1
"""
_SELECT_CHECKSUM: Final = """
SELECT created_at, data FROM tuf_files
WHERE gun = ? AND role = ? AND sha256 = ? AND deleted_at IS NULL ORDER BY id LIMIT 1
"""
_SELECT_VERSION: Final = """
SELECT created_at, data FROM tuf_files
WHERE gun = ? AND role = ? AND version = ? AND deleted_at IS NULL
"""
_DELETE_GUN: Final = "DELETE FROM tuf_files WHERE gun = ?"
_CHANGES_FORWARD: Final = """
SELECT id, created_at, gun, version, sha256, category FROM changefeed
WHERE id > :after AND (:gun IS NULL OR gun = :gun) ORDER BY id ASC LIMIT :limit
"""
_CHANGES_BACKWARD: Final = """
SELECT id, created_at, gun, version, sha256, category FROM changefeed
WHERE (:before IS NULL OR id < :before) AND (:gun IS NULL OR gun = :gun)
ORDER BY id DESC LIMIT :limit
"""
_HAS_TABLE: Final = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"

# Operator tooling (beyond Go; the audit columns and table come with migration 0004).
_INSERT_CHANGE_AUDITED: Final = """
INSERT INTO changefeed (created_at, gun, version, sha256, category, actor, client_addr)
VALUES (?, ?, ?, ?, ?, ?, ?)
"""
_LIST_GUNS: Final = "SELECT DISTINCT gun FROM tuf_files WHERE deleted_at IS NULL ORDER BY gun"
_LIST_FILES: Final = """
SELECT role, version, sha256, length(data), created_at FROM tuf_files
WHERE gun = ? AND deleted_at IS NULL ORDER BY role, version
"""
_DELETE_VERSION: Final = "DELETE FROM tuf_files WHERE gun = ? AND role = ? AND version = ?"
_INSERT_AUDIT: Final = """
INSERT INTO audit_log (created_at, gun, action, detail, actor, client_addr)
VALUES (?, ?, ?, ?, ?, ?)
"""
_SELECT_AUDIT: Final = """
SELECT id, created_at, gun, action, detail, actor, client_addr FROM audit_log
WHERE gun = ? ORDER BY id DESC LIMIT ?
"""

# go-sqlite3's layouts: "2006-01-02 15:04:05.999999999-07:00" and relatives.
_GO_TIME: Final = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2})(?::(\d{2}))?(?:\.(\d+))?)?\s*(Z|[+-]\d{2}:?\d{2})?"
)


def parse_sqlite_url(db_url: str) -> SqliteTarget:
    """Parse Go's sqlite3 ``storage.db_url`` (see :func:`notary_runtime.sqlite.parse_sqlite_url`).

    Raises:
        StorageError: the URL is empty or a driver parameter is malformed.
    """
    return _parse_sqlite_url(db_url, error=StorageError)


async def open_sqlite(db_url: str, *, create: bool = True) -> SqliteMetaStore:
    """Open (and, when it has no tables, initialise) an SQLite database.

    Args:
        db_url: Go's sqlite3 ``storage.db_url``: a path, ``:memory:``, or a
            ``file:`` URI, optionally with go-sqlite3's ``_busy_timeout``.
        create: give a database without tables the current schema.

    Raises:
        StorageError: the database cannot be opened or initialised.
    """
    store = SqliteMetaStore(parse_sqlite_url(db_url))

    def prepare(conn: sqlite3.Connection) -> None:
        if create and has_no_tables(conn):
            migrate_sqlite_connection(conn)

    await store._db.open(prepare)  # noqa: SLF001 - our own construction step
    return store


class SqliteMetaStore(OneAtATime):
    """Metadata in one SQLite file; build it with :func:`open_sqlite`.

    It implements :class:`~notary_server.storage.capabilities.Backend`: every
    capability, the bulk reads and GUN pages one item at a time.
    """

    def __init__(self, target: SqliteTarget) -> None:
        """Prepare the worker thread; :func:`open_sqlite` then connects on it."""
        self._db = SqliteWorker(
            target,
            label="SQLite store",
            thread_name="notary-sqlite",
            error=StorageError,
            translate=functools.partial(_translate, target.database),
        )
        self._call = self._db.call
        self._connection = self._db.connection  # on the worker thread only

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
                its role, or two updates share a role and version.
            StorageError: a version does not fit, the file is read-only, or
                the database failed.
        """
        check_batch(updates)
        if updates:
            await self._call(self._update_many, gun, list(updates), audit)

    async def get_current(self, gun: str, role: str) -> StoredMeta:
        """Return the highest version of a role.

        Raises:
            NotFoundError: the role has no stored version.
            StorageError: the database failed.
        """
        return await self._call(self._get_one, _SELECT_CURRENT, (gun, role))

    async def get_checksum(self, gun: str, role: str, checksum: str) -> StoredMeta:
        """Return the version of a role whose SHA-256 is ``checksum`` (lowercase hex).

        Raises:
            NotFoundError: no such file.
            StorageError: the database failed.
        """
        return await self._call(self._get_one, _SELECT_CHECKSUM, (gun, role, checksum))

    async def get_version(self, gun: str, role: str, version: int) -> StoredMeta:
        """Return a given version of a role.

        Raises:
            NotFoundError: no such version.
            StorageError: the database failed.
        """
        if not version_fits(version):
            raise NotFoundError(f"no {role} version {version} for {gun}")
        return await self._call(self._get_one, _SELECT_VERSION, (gun, role, version))

    async def delete(self, gun: str, *, audit: Audit | None = None) -> None:
        """Delete every file of exactly this GUN; record it if anything was deleted.

        Raises:
            StorageError: the file is read-only, or the database failed.
        """
        await self._call(self._delete, gun, audit)

    async def get_changes(self, change_id: int, records: int, gun: str | None) -> list[Change]:
        """Return changefeed records, oldest to newest (docs/protocol.md#changefeed).

        ``records == 0`` returns up to 100 records (Go's default page size).

        Raises:
            StorageError: the database failed.
        """
        page = changes_page(change_id, records)
        params: dict[str, object] = {"gun": gun, "limit": page.limit}
        if page.backwards:
            params["before"] = page.before
            rows = await self._db.fetch_all(_CHANGES_BACKWARD, params)
            rows.reverse()
        else:
            params["after"] = page.after
            rows = await self._db.fetch_all(_CHANGES_FORWARD, params)
        audits = await self._call(self._change_audits, [int(row[0]) for row in rows])
        return [
            Change(
                id=int(row[0]),
                created_at=parse_go_time(row[1]),
                gun=str(row[2]),
                version=int(row[3]),
                sha256=str(row[4] or "").rstrip(" "),
                category=str(row[5]),
                actor=audits.get(int(row[0]), (None, None))[0],
                client_addr=audits.get(int(row[0]), (None, None))[1],
            )
            for row in rows
        ]

    async def check_health(self) -> None:
        """Fail unless the ``tuf_files`` table exists (Go ``CheckHealth``).

        Raises:
            StorageError: the store is closed or the table is missing.
        """
        row = await self._db.fetch_one(_HAS_TABLE, ("tuf_files",))
        if row is None or not row[0]:
            raise StorageError("Cannot access table: tuf_files")

    async def change_token(self) -> tuple[int, int]:
        """A value that changes whenever any connection commits a write to the file.

        ``PRAGMA data_version`` moves with other connections' commits, the
        connection's ``total_changes`` with its own; the cache's change
        tracker (:mod:`notary_server.storage.notify`) compares successive values.

        Raises:
            StorageError: the store is closed or the database failed.
        """
        return await self._call(self._change_token)

    async def open_change_tracker(self, cache: MetadataCache) -> ChangeTracker | None:
        """Follow ``PRAGMA data_version`` and this store's own writes."""
        # Imported here: the tracker module names this store's type.
        from notary_server.storage.notify_sqlite import open_sqlite_tracker  # noqa: PLC0415

        return await open_sqlite_tracker(self, cache)

    async def close(self) -> None:
        """Close the connection on its thread, then let the thread end."""
        await self._db.close()

    # The methods below run on the worker thread.

    def _update_many(self, gun: str, updates: list[MetaUpdate], audit: Audit | None) -> None:
        conn = self._connection()
        now = format_go_time(utcnow())
        conn.execute("BEGIN IMMEDIATE")
        try:
            stored: dict[str, int] = {}
            for role in {update.role for update in updates}:
                (highest,) = conn.execute(_MAX_VERSION, (gun, role)).fetchone()
                if highest is not None:
                    stored[role] = int(highest)
            check_against_stored(updates, stored)
            for update in updates:
                checksum = sha256_hex(update.data)
                conn.execute(
                    _INSERT_FILE,
                    (now, now, gun, update.role, update.version, checksum, update.data),
                )
                if update.role == TIMESTAMP_ROLE:
                    change = (now, gun, update.version, checksum, UPDATE_CATEGORY)
                    self._insert_change(conn, change, audit)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise

    def _delete(self, gun: str, audit: Audit | None) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute(_DELETE_GUN, (gun,)).rowcount > 0:
                change = (format_go_time(utcnow()), gun, 0, "", DELETION_CATEGORY)
                self._insert_change(conn, change, audit)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise

    async def list_guns(self) -> list[str]:
        """Return every GUN with a stored file, sorted.

        Raises:
            StorageError: the database failed.
        """
        return [str(row[0]) for row in await self._db.fetch_all(_LIST_GUNS, {})]

    async def list_files(self, gun: str) -> list[FileInfo]:
        """Return the GUN's files without their bytes, by role then version.

        Raises:
            StorageError: the database failed.
        """
        rows = await self._db.fetch_all(_LIST_FILES, (gun,))
        return [
            FileInfo(
                gun=gun,
                role=str(row[0]),
                version=int(row[1]),
                sha256=str(row[2] or ""),
                size=int(row[3] or 0),
                created=parse_go_time(row[4]),
            )
            for row in rows
        ]

    async def delete_versions(self, gun: str, versions: Sequence[tuple[str, int]]) -> int:
        """Delete the given (role, version) files in one transaction; return how many went.

        Raises:
            StorageError: the file is read-only, or the database failed.
        """
        return await self._call(self._delete_versions, gun, list(versions))

    async def record_audit(self, event: AuditEvent) -> None:
        """Append to ``audit_log``; without migration 0004 nothing is recorded.

        Raises:
            StorageError: the file is read-only, or the database failed.
        """
        await self._call(self._record_audit, event)

    async def get_audit(self, gun: str, limit: int = 50) -> list[AuditEvent]:
        """Return the newest ``limit`` audit records of the GUN, oldest first.

        Raises:
            StorageError: the database failed.
        """
        if not await self._call(self._has_audit):
            return []
        rows = await self._db.fetch_all(_SELECT_AUDIT, (gun, limit))
        return [
            AuditEvent(
                id=int(row[0]),
                created_at=parse_go_time(row[1]),
                gun=str(row[2]),
                action=str(row[3]),
                detail=str(row[4]),
                actor=str(row[5]),
                client_addr=None if row[6] is None else str(row[6]),
            )
            for row in reversed(rows)
        ]

    def _has_audit(self) -> bool:
        # Asked every time: on the worker thread it is one cheap catalogue read.
        return bool(self._connection().execute(_HAS_TABLE, ("audit_log",)).fetchone()[0])

    def _insert_change(
        self, conn: sqlite3.Connection, change: tuple[object, ...], audit: Audit | None
    ) -> None:
        if audit is not None and self._has_audit():
            conn.execute(_INSERT_CHANGE_AUDITED, (*change, audit.actor, audit.client_addr))
        else:
            conn.execute(_INSERT_CHANGE, change)

    def _change_audits(self, ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
        if not ids or not self._has_audit():
            return {}
        marks = ",".join("?" * len(ids))
        query = f"SELECT id, actor, client_addr FROM changefeed WHERE id IN ({marks})"  # noqa: S608 - placeholders only
        rows = self._connection().execute(query, ids).fetchall()
        return {int(row[0]): (row[1], row[2]) for row in rows if row[1] is not None}

    def _delete_versions(self, gun: str, versions: list[tuple[str, int]]) -> int:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            deleted = sum(
                conn.execute(_DELETE_VERSION, (gun, role, version)).rowcount
                for role, version in versions
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise
        return deleted

    def _record_audit(self, event: AuditEvent) -> None:
        if not self._has_audit():
            return
        self._connection().execute(
            _INSERT_AUDIT,
            (
                format_go_time(event.created_at),
                event.gun,
                event.action,
                event.detail,
                event.actor,
                event.client_addr,
            ),
        )

    def _change_token(self) -> tuple[int, int]:
        conn = self._connection()
        (version,) = conn.execute("PRAGMA data_version").fetchone()
        return int(version), conn.total_changes

    def _get_one(self, query: str, params: tuple[object, ...]) -> StoredMeta:
        row = self._connection().execute(query, params).fetchone()
        if row is None:
            raise NotFoundError(f"no such metadata: {params!r}")
        data = row[1]
        return StoredMeta(
            created=parse_go_time(row[0]),
            data=data.encode() if isinstance(data, str) else bytes(data),
        )


def _translate(database: str, exc: sqlite3.Error) -> StorageError:
    """Turn an SQLite error into the storage error a caller can act on."""
    if isinstance(exc, sqlite3.IntegrityError):
        if "UNIQUE" in str(exc):
            return OldVersionError(f"the same version is already stored: {exc}")
        return StorageError(f"SQLite constraint failed: {exc}")
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_READONLY or "readonly" in str(exc):
        return StorageError(f"SQLite database {database} is read-only: {exc}")
    return StorageError(f"SQLite database {database}: {exc}")


def parse_go_time(value: object) -> datetime:
    """Read a stored time written by Go, by us, or by SQLite itself; aware, in UTC.

    Text without an offset is taken as UTC; a number as Unix seconds. What
    cannot be read becomes the Unix epoch rather than failing the request.
    """
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    match = _GO_TIME.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return datetime.fromtimestamp(0, UTC)
    day, clock, seconds, fraction, offset = match.groups()
    moment = datetime.fromisoformat(f"{day}T{clock or '00:00'}:{seconds or '00'}")
    if fraction:
        moment += timedelta(microseconds=int(fraction[:6].ljust(6, "0")))
    zone = UTC
    if offset and offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return moment.replace(tzinfo=zone).astimezone(UTC)
