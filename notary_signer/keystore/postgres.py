"""The PostgreSQL key store (asyncpg), on Go's ``private_keys`` table.

Port of Go ``signer/keydbstore/sql_keydbstore.go`` for the ``postgres``
backend, on the schema of Go's ``migrations/signer/postgresql`` (ours is at the
same path), so a Go signer's database can be used as it is and
the other way round. The ``timestamp`` columns hold UTC without a zone.

SQL is written by hand with ``$n`` parameters; each write is a single
statement, and so its own transaction, except :meth:`PostgresKeyStore.add_unless_pending`:
it takes a transaction-scoped advisory lock named after the GUN, role and
algorithm, looks for a pending key and inserts only when there is none, so
signer replicas on one database agree on one pending key. ``UNIQUE (key_id)``
decides races between replicas creating the same key.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import asyncpg

from notary_signer.errors import KeyExistsError, KeyNotFoundError, KeyStoreError
from notary_signer.keystore.base import KeyRecord, KeyStore

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["PostgresKeyStore", "open_postgres", "pending_lock_id"]

_INSERT: Final = """
INSERT INTO private_keys (created_at, updated_at, deleted_at, key_id, encryption_alg,
    keywrap_alg, algorithm, passphrase_alias, gun, role, public, private, last_used)
VALUES ($1, $1, NULL, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)
"""
_GET: Final = """
SELECT key_id, algorithm, gun, role, public, private, passphrase_alias,
    encryption_alg, keywrap_alg, last_used
FROM private_keys WHERE key_id = $1 AND deleted_at IS NULL
"""
_PENDING: Final = """
SELECT key_id, algorithm, gun, role, public, private, passphrase_alias,
    encryption_alg, keywrap_alg, last_used
FROM private_keys
WHERE role = $1 AND gun = $2 AND algorithm = $3 AND last_used IS NULL AND deleted_at IS NULL
ORDER BY id DESC LIMIT 1
"""
_MARK_USED: Final = """
UPDATE private_keys SET last_used = $1, updated_at = $2 WHERE key_id = $3 AND deleted_at IS NULL
"""
_DELETE: Final = "UPDATE private_keys SET deleted_at = $1 WHERE key_id = $2 AND deleted_at IS NULL"
_ROTATION: Final = """
SELECT key_id FROM private_keys WHERE passphrase_alias <> $1 AND deleted_at IS NULL
ORDER BY key_id
"""
_REPLACE: Final = """
UPDATE private_keys SET private = $1, passphrase_alias = $2, updated_at = $3
WHERE key_id = $4 AND passphrase_alias = $5 AND deleted_at IS NULL
"""
_LOCK: Final = "SELECT pg_advisory_xact_lock($1)"
_LOCK_NAMESPACE: Final = b"notary-py signer pending key\0"
_ONE_PER_ALIAS: Final = """
SELECT key_id, algorithm, gun, role, public, private, passphrase_alias,
    encryption_alg, keywrap_alg, last_used
FROM private_keys WHERE id IN (
    SELECT max(id) FROM private_keys WHERE deleted_at IS NULL GROUP BY passphrase_alias
)
"""
_HEALTH: Final = "SELECT to_regclass('private_keys') IS NOT NULL"
_CONNECT_TIMEOUT: Final = 10.0


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _now() -> datetime:
    return _naive_utc(datetime.now(UTC))


def pending_lock_id(gun: str, role: str, algorithm: str) -> int:
    """The advisory lock (a signed 64-bit number) of one (gun, role, algorithm)'s pending key.

    Distinct names may share a number; that only makes them wait for each other.
    """
    name = _LOCK_NAMESPACE + f"{gun}\0{role}\0{algorithm}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.sha256(name).digest()[:8], "big", signed=True)


def _record(row: asyncpg.Record) -> KeyRecord:
    last_used = row["last_used"]
    return KeyRecord(
        key_id=row["key_id"],
        algorithm=row["algorithm"],
        gun=row["gun"],
        role=row["role"],
        public=bytes(row["public"]),
        private=bytes(row["private"]),
        passphrase_alias=row["passphrase_alias"],
        encryption_alg=row["encryption_alg"],
        keywrap_alg=row["keywrap_alg"],
        last_used=None if last_used is None else last_used.replace(tzinfo=UTC),
    )


async def open_postgres(dsn: str, *, max_size: int = 10) -> PostgresKeyStore:
    """Connect a pool to the signer database (the schema must exist: run ``migrate``).

    Raises:
        KeyStoreError: the database cannot be reached.
    """
    try:
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=max_size, timeout=_CONNECT_TIMEOUT
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        raise KeyStoreError(f"cannot connect to PostgreSQL: {type(e).__name__}") from e
    return PostgresKeyStore(pool)


def _insert_args(record: KeyRecord) -> tuple[object, ...]:
    """The arguments of ``_INSERT`` for ``record``, created now."""
    return (
        _now(),
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


class PostgresKeyStore(KeyStore):
    """Keys in PostgreSQL; build it with :func:`open_postgres`."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        """Use ``pool`` (the store closes it)."""
        self._pool: asyncpg.Pool | None = pool

    async def _run(self, func: Callable[[asyncpg.Pool], Awaitable[Any]]) -> Any:
        if self._pool is None:
            raise KeyStoreError("the PostgreSQL key store is closed")
        try:
            return await func(self._pool)
        except asyncpg.UniqueViolationError as e:
            raise KeyExistsError("a key with this ID is already stored") from e
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            raise KeyStoreError(f"PostgreSQL key database: {type(e).__name__}") from e

    async def add(self, record: KeyRecord) -> None:
        """Insert a new row (see :meth:`KeyStore.add`)."""
        args = _insert_args(record)
        await self._run(lambda pool: pool.execute(_INSERT, *args))

    async def add_unless_pending(self, record: KeyRecord) -> KeyRecord:
        """Insert unless a key is pending (see :meth:`KeyStore.add_unless_pending`).

        Under the advisory lock each statement of the READ COMMITTED
        transaction sees what the previous holder committed.
        """
        args = _insert_args(record)
        lock = pending_lock_id(record.gun, record.role, record.algorithm)

        async def insert(pool: asyncpg.Pool) -> asyncpg.Record | None:
            async with pool.acquire() as conn, conn.transaction(isolation="read_committed"):
                await conn.execute(_LOCK, lock)
                row = await conn.fetchrow(_PENDING, record.role, record.gun, record.algorithm)
                if row is None:
                    await conn.execute(_INSERT, *args)
                return row

        row = await self._run(insert)
        return record if row is None else _record(row)

    async def get(self, key_id: str) -> KeyRecord:
        """Return the live row (see :meth:`KeyStore.get`)."""
        row = await self._run(lambda pool: pool.fetchrow(_GET, key_id))
        if row is None:
            raise KeyNotFoundError(key_id)
        return _record(row)

    async def get_pending(self, gun: str, role: str, algorithm: str) -> KeyRecord | None:
        """Return the newest pending key (see :meth:`KeyStore.get_pending`)."""
        row = await self._run(lambda pool: pool.fetchrow(_PENDING, role, gun, algorithm))
        return None if row is None else _record(row)

    async def mark_used(self, key_id: str, when: datetime) -> None:
        """Set ``last_used`` (see :meth:`KeyStore.mark_used`)."""
        await self._run(lambda pool: pool.execute(_MARK_USED, _naive_utc(when), _now(), key_id))

    async def delete(self, key_id: str) -> None:
        """Soft-delete (see :meth:`KeyStore.delete`)."""
        await self._run(lambda pool: pool.execute(_DELETE, _now(), key_id))

    async def list_for_rotation(self, to_alias: str) -> list[str]:
        """Return live keys under another alias (see :meth:`KeyStore.list_for_rotation`)."""
        rows = await self._run(lambda pool: pool.fetch(_ROTATION, to_alias))
        return [row["key_id"] for row in rows]

    async def replace_encryption(
        self, key_id: str, *, private: bytes, alias: str, expected_alias: str
    ) -> bool:
        """Compare-and-set the encryption (see :meth:`KeyStore.replace_encryption`)."""
        status = await self._run(
            lambda pool: pool.execute(_REPLACE, private, alias, _now(), key_id, expected_alias)
        )
        return bool(status == "UPDATE 1")

    async def one_key_per_alias(self) -> list[KeyRecord]:
        """Return the newest live key of each alias (see :meth:`KeyStore.one_key_per_alias`)."""
        rows = await self._run(lambda pool: pool.fetch(_ONE_PER_ALIAS))
        return [_record(row) for row in rows]

    async def check_health(self) -> None:
        """Fail unless ``private_keys`` exists (see :meth:`KeyStore.check_health`)."""
        if not await self._run(lambda pool: pool.fetchval(_HEALTH)):
            raise KeyStoreError("Cannot access table: private_keys")

    async def close(self) -> None:
        """Close the pool; idempotent."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
