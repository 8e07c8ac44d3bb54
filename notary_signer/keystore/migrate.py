"""Schema migrations for the signer's SQL key stores, recorded as golang-migrate does.

The numbered ``.sql`` files under ``migrations/<dialect>/`` ship as package
data. PostgreSQL's is Go notary 0.7's own DDL (``migrations/signer/postgresql``);
SQLite's reproduces the table gorm creates for Go's ``GormPrivateKey``.

The applied version is the single row of ``schema_migrations (version bigint,
dirty boolean)``, golang-migrate v4's table, so a database Go's tooling
migrated is recognised. Each file runs in one transaction together with the
version update. A dirty row is refused. A database that already has
``private_keys`` but no version row (made by gorm or by hand) is baselined at
version 1 rather than migrated again. Nothing is ever downgraded or deleted.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from typing import Final, Literal

import asyncpg

from notary_signer.errors import KeyStoreError
from notary_signer.keystore._sqlite_url import connect_sqlite

__all__ = ["Migration", "available_migrations", "migrate", "migrate_postgres", "migrate_sqlite"]

logger = logging.getLogger(__name__)

Dialect = Literal["postgresql", "sqlite"]

_FILE_NAME: Final = re.compile(r"^(\d+)_[A-Za-z0-9_]+\.sql$")
_KEYS_TABLE: Final = "private_keys"
_CREATE_VERSION_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
)
_SELECT_VERSION: Final = (
    "SELECT version, dirty FROM schema_migrations ORDER BY version DESC LIMIT 1"
)
_PG_LOCK_ID: Final = 0x6E6F7461727973  # "notarys": one signer migrator at a time per database


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered migration file."""

    version: int
    name: str
    sql: str


def available_migrations(dialect: Dialect) -> list[Migration]:
    """Return the migrations shipped for ``dialect``, in version order."""
    found = []
    for entry in (resources.files(__package__) / "migrations" / dialect).iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def _plan(
    row: tuple[int, bool] | None, *, has_keys_table: bool, available: list[Migration]
) -> tuple[int | None, list[Migration]]:
    """Return (version to record without running anything, migrations to run).

    Raises:
        KeyStoreError: the version row is dirty or newer than this release.
    """
    latest = available[-1].version if available else 0
    if row is None:
        if has_keys_table:
            return 1, [m for m in available if m.version > 1]
        return None, available
    version, dirty = row
    if dirty:
        raise KeyStoreError(
            f"schema_migrations is dirty at version {version}: repair the schema by hand, "
            "then record the version (golang-migrate: migrate force N)"
        )
    if version > latest:
        raise KeyStoreError(f"database schema version {version} is newer than known ({latest})")
    return None, [m for m in available if m.version > version]


async def migrate_postgres(dsn: str) -> list[int]:
    """Bring a PostgreSQL database up to date.

    Returns:
        The versions run, in order; empty when the schema was current.

    Raises:
        KeyStoreError: the database is unreachable, dirty, or a statement failed.
    """
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        raise KeyStoreError(f"cannot connect to PostgreSQL: {type(e).__name__}") from e
    applied: list[int] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _PG_LOCK_ID)
        await conn.execute(_CREATE_VERSION_TABLE)
        record = await conn.fetchrow(_SELECT_VERSION)
        row = None if record is None else (int(record[0]), bool(record[1]))
        has_table = bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", _KEYS_TABLE))
        baseline, pending = _plan(
            row, has_keys_table=has_table, available=available_migrations("postgresql")
        )
        steps = [("", baseline)] if baseline is not None else []
        steps += [(m.sql, m.version) for m in pending]
        for sql, version in steps:
            async with conn.transaction():
                if sql:
                    logger.info("applying signer migration %d", version)
                    await conn.execute(sql)
                await conn.execute("DELETE FROM schema_migrations")
                await conn.execute(
                    "INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)", version
                )
            if sql:
                applied.append(version)
    except asyncpg.PostgresError as e:
        raise KeyStoreError(f"migration failed: {e}") from e
    finally:
        await conn.close()
    return applied


def migrate_sqlite_connection(conn: sqlite3.Connection) -> list[int]:
    """Bring the database behind an open autocommit connection up to date (blocking).

    Returns:
        The versions run, in order.

    Raises:
        KeyStoreError: the version row is dirty, or a statement failed.
    """
    applied: list[int] = []
    try:
        conn.execute(_CREATE_VERSION_TABLE)
        fetched = conn.execute(_SELECT_VERSION).fetchone()
        row = None if fetched is None else (int(fetched[0]), bool(fetched[1]))
        has_table = bool(
            conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                (_KEYS_TABLE,),
            ).fetchone()[0]
        )
        baseline, pending = _plan(
            row, has_keys_table=has_table, available=available_migrations("sqlite")
        )
        steps = [("", baseline)] if baseline is not None else []
        steps += [(m.sql, m.version) for m in pending]
        for sql, version in steps:
            try:
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{sql}\nDELETE FROM schema_migrations;\n"
                    f"INSERT INTO schema_migrations (version, dirty) VALUES ({version:d}, 0);\n"
                    "COMMIT;"
                )
            except BaseException:
                if conn.in_transaction:
                    conn.rollback()
                raise
            if sql:
                applied.append(version)
    except sqlite3.Error as e:
        raise KeyStoreError(f"SQLite migration failed: {e}") from e
    return applied


def migrate_sqlite(db_url: str) -> list[int]:
    """Bring an SQLite database up to date (blocking; for tools and threads).

    Raises:
        KeyStoreError: the file cannot be opened or written, or is dirty.
    """
    conn = connect_sqlite(db_url)
    try:
        return migrate_sqlite_connection(conn)
    finally:
        conn.close()


async def migrate(backend: str, db_url: str) -> list[int]:
    """Migrate the database of a Go ``storage.backend`` name (``postgres``, ``sqlite3``).

    Returns:
        The versions run, in order.

    Raises:
        KeyStoreError: the backend has no migrations, or migrating failed.
    """
    if backend == "postgres":
        return await migrate_postgres(db_url)
    if backend == "sqlite3":
        return await asyncio.to_thread(migrate_sqlite, db_url)
    raise KeyStoreError(f"the {backend} storage backend has no schema to migrate")
