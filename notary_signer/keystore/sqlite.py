"""The SQLite key store: stdlib :mod:`sqlite3` on one dedicated thread.

Port of Go ``signer/keydbstore/sql_keydbstore.go`` for the ``sqlite3``
backend, on the table gorm creates for Go (``migrations/signer/sqlite``). Times are
stored as go-sqlite3 writes ``time.Time`` (``2006-01-02 15:04:05.999999999+00:00``).
Go binds its string columns as TEXT holding raw bytes, so text is read back
as bytes here (``text_factory = bytes``).

Every call runs on a single worker thread that owns the only connection
(:class:`notary_runtime.sqlite.SqliteWorker`), so the event loop never blocks
on the database. Each write is one statement, and
so one transaction, except :meth:`SqliteKeyStore.add_unless_pending`, which
checks for a pending key and inserts in one ``BEGIN IMMEDIATE`` transaction
(SQLite's write lock, held across processes). A database without tables is
given the schema when opened.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any, Final

from notary_runtime.sqlite import SqliteWorker, format_go_time, has_no_tables, parse_sqlite_url
from notary_signer.errors import KeyExistsError, KeyNotFoundError, KeyStoreError, SignerError
from notary_signer.keystore.base import KeyRecord, KeyStore
from notary_signer.keystore.migrate import migrate_sqlite_connection

__all__ = ["SqliteKeyStore", "format_go_time", "open_sqlite", "parse_go_time"]

_INSERT: Final = """
INSERT INTO private_keys (created_at, updated_at, deleted_at, key_id, encryption_alg,
    keywrap_alg, algorithm, passphrase_alias, gun, role, public, private, last_used)
VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
"""
_GET: Final = """
SELECT key_id, algorithm, gun, role, public, private, passphrase_alias,
    encryption_alg, keywrap_alg, last_used
FROM private_keys WHERE key_id = ? AND deleted_at IS NULL
"""
_PENDING: Final = """
SELECT key_id, algorithm, gun, role, public, private, passphrase_alias,
    encryption_alg, keywrap_alg, last_used
FROM private_keys
WHERE role = ? AND gun = ? AND algorithm = ? AND last_used IS NULL AND deleted_at IS NULL
ORDER BY id DESC LIMIT 1
"""
_MARK_USED: Final = """
UPDATE private_keys SET last_used = ?, updated_at = ? WHERE key_id = ? AND deleted_at IS NULL
"""
_DELETE: Final = """
UPDATE private_keys SET deleted_at = ? WHERE key_id = ? AND deleted_at IS NULL
"""
_ROTATION: Final = """
SELECT key_id FROM private_keys WHERE passphrase_alias <> ? AND deleted_at IS NULL ORDER BY key_id
"""
_REPLACE: Final = """
UPDATE private_keys SET private = ?, passphrase_alias = ?, updated_at = ?
WHERE key_id = ? AND passphrase_alias = ? AND deleted_at IS NULL
"""
_ONE_PER_ALIAS: Final = """
SELECT key_id, algorithm, gun, role, public, private, passphrase_alias,
    encryption_alg, keywrap_alg, last_used
FROM private_keys WHERE id IN (
    SELECT max(id) FROM private_keys WHERE deleted_at IS NULL GROUP BY passphrase_alias
)
"""
_HAS_TABLE: Final = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"


def parse_go_time(value: object) -> datetime | None:
    """Read a stored time (Go's or SQLite's text layouts); ``None`` for NULL or unreadable."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace(" ", "T", 1)
    head, dot, rest = text.partition(".")
    if dot:  # Python reads at most 6 fractional digits; Go writes up to 9
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _blob(value: object) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise KeyStoreError(f"unexpected {type(value).__name__} in a key column")


def _record(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(
        key_id=_text(row[0]),
        algorithm=_text(row[1]),
        gun=_text(row[2]),
        role=_text(row[3]),
        public=_blob(row[4]),
        private=_blob(row[5]),
        passphrase_alias=_text(row[6]),
        encryption_alg=_text(row[7]),
        keywrap_alg=_text(row[8]),
        last_used=parse_go_time(row[9]),
    )


async def open_sqlite(db_url: str) -> SqliteKeyStore:
    """Open (and, when it has no tables, initialise) an SQLite key database.

    Raises:
        KeyStoreError: the database cannot be opened or initialised.
    """
    store = SqliteKeyStore(db_url)
    await store._db.open(_prepare)  # noqa: SLF001 - our own construction step
    return store


def _prepare(conn: sqlite3.Connection) -> None:
    conn.text_factory = bytes
    if has_no_tables(conn):
        migrate_sqlite_connection(conn)


def _translate(exc: sqlite3.Error) -> SignerError:
    if isinstance(exc, sqlite3.IntegrityError):
        if "UNIQUE" in str(exc):
            return KeyExistsError("a key with this ID is already stored")
        return KeyStoreError(f"SQLite constraint failed: {exc}")
    return KeyStoreError(f"SQLite key database: {exc}")


def _insert_params(record: KeyRecord) -> tuple[object, ...]:
    """The parameters of ``_INSERT`` for ``record``, created and updated now."""
    now = format_go_time(datetime.now(UTC))
    return (
        now,
        now,
        record.key_id,
        record.encryption_alg,
        record.keywrap_alg,
        record.algorithm,
        record.passphrase_alias,
        record.gun,
        record.role,
        record.public,
        record.private,
    )


class SqliteKeyStore(KeyStore):
    """Keys in one SQLite file; build it with :func:`open_sqlite`."""

    def __init__(self, db_url: str) -> None:
        """Prepare the worker thread; :func:`open_sqlite` connects on it.

        Raises:
            KeyStoreError: the URL is empty or malformed.
        """
        self._db = SqliteWorker(
            parse_sqlite_url(db_url, error=KeyStoreError),
            label="SQLite key store",
            thread_name="notary-signer-sqlite",
            error=KeyStoreError,
            translate=_translate,
        )

    async def add(self, record: KeyRecord) -> None:
        """Insert a new row (see :meth:`KeyStore.add`)."""
        params = _insert_params(record)
        await self._db.execute(_INSERT, params)

    async def add_unless_pending(self, record: KeyRecord) -> KeyRecord:
        """Insert unless a key is pending (see :meth:`KeyStore.add_unless_pending`)."""
        params = _insert_params(record)
        row = await self._db.call(self._insert_unless_pending, params, record)
        return record if row is None else _record(row)

    def _insert_unless_pending(
        self, params: tuple[object, ...], record: KeyRecord
    ) -> tuple[Any, ...] | None:
        """On the worker thread: the check and the insert under SQLite's write lock."""
        conn = self._db.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row: tuple[Any, ...] | None = conn.execute(
                _PENDING, (record.role, record.gun, record.algorithm)
            ).fetchone()
            if row is None:
                conn.execute(_INSERT, params)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return row

    async def get(self, key_id: str) -> KeyRecord:
        """Return the live row (see :meth:`KeyStore.get`)."""
        row = await self._db.fetch_one(_GET, (key_id,))
        if row is None:
            raise KeyNotFoundError(key_id)
        return _record(row)

    async def get_pending(self, gun: str, role: str, algorithm: str) -> KeyRecord | None:
        """Return the newest pending key (see :meth:`KeyStore.get_pending`)."""
        row = await self._db.fetch_one(_PENDING, (role, gun, algorithm))
        return None if row is None else _record(row)

    async def mark_used(self, key_id: str, when: datetime) -> None:
        """Set ``last_used`` (see :meth:`KeyStore.mark_used`)."""
        now = format_go_time(datetime.now(UTC))
        await self._db.execute(_MARK_USED, (format_go_time(when), now, key_id))

    async def delete(self, key_id: str) -> None:
        """Soft-delete (see :meth:`KeyStore.delete`)."""
        await self._db.execute(_DELETE, (format_go_time(datetime.now(UTC)), key_id))

    async def list_for_rotation(self, to_alias: str) -> list[str]:
        """Return live keys under another alias (see :meth:`KeyStore.list_for_rotation`)."""
        rows = await self._db.fetch_all(_ROTATION, (to_alias,))
        return [_text(row[0]) for row in rows]

    async def replace_encryption(
        self, key_id: str, *, private: bytes, alias: str, expected_alias: str
    ) -> bool:
        """Compare-and-set the encryption (see :meth:`KeyStore.replace_encryption`)."""
        now = format_go_time(datetime.now(UTC))
        params = (private, alias, now, key_id, expected_alias)
        return await self._db.execute(_REPLACE, params) == 1

    async def one_key_per_alias(self) -> list[KeyRecord]:
        """Return the newest live key of each alias (see :meth:`KeyStore.one_key_per_alias`)."""
        return [_record(row) for row in await self._db.fetch_all(_ONE_PER_ALIAS, ())]

    async def check_health(self) -> None:
        """Fail unless ``private_keys`` exists (see :meth:`KeyStore.check_health`)."""
        row = await self._db.fetch_one(_HAS_TABLE, ("private_keys",))
        if row is None or not row[0]:
            raise KeyStoreError("Cannot access table: private_keys")

    async def close(self) -> None:
        """Close the connection on its thread, then let the thread end."""
        await self._db.close()
