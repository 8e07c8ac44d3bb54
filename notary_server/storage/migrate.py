"""Schema migrations for the server's SQL stores, recorded the way golang-migrate records them.

The numbered ``.sql`` files under ``migrations/<backend>/`` ship as package
data. PostgreSQL's are Go notary 0.7's own DDL (``migrations/server/postgresql``);
SQLite's reproduce the tables gorm's AutoMigrate creates for Go's sqlite3
backend, which Go never migrated with files.

The applied version lives in ``schema_migrations (version bigint, dirty
boolean)``, one row, as golang-migrate v4 keeps it, so that a database Go's
tooling migrated is recognised here and the reverse. Each file runs in one
transaction together with the version update (DDL is transactional in both
databases), so a failure leaves the previous version in place rather than a
dirty row. A dirty row, left by golang-migrate, is refused.

A database that has Go's tables but no version row (set up by gorm or by
hand) is *baselined*: the versions whose tables exist are recorded, not re-run.

This module never downgrades and never deletes data.
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

from notary_server.storage import StorageError
from notary_server.storage._sqlite_url import connect_sqlite, parse_sqlite_url

__all__ = [
    "Migration",
    "MigrationError",
    "available_migrations",
    "migrate",
    "migrate_postgres",
    "migrate_sqlite",
    "migrate_sqlite_connection",
]

log = logging.getLogger(__name__)

Dialect = Literal["postgresql", "sqlite"]

_FILE_NAME: Final = re.compile(r"^(\d+)_[A-Za-z0-9_]+\.sql$")

# Tables whose presence shows that a version was applied, for baselining a
# database that has no schema_migrations row.
_MARKERS: Final = {1: "tuf_files", 2: "changefeed"}

_CREATE_VERSION_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
)
_SELECT_VERSION: Final = (
    "SELECT version, dirty FROM schema_migrations ORDER BY version DESC LIMIT 1"
)

_PG_LOCK_ID: Final = 0x6E6F74617279  # "notary": one migrator at a time per database
_PG_TABLE_EXISTS: Final = "SELECT to_regclass($1) IS NOT NULL"
_PG_SET_VERSION: Final = "INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)"

_SQLITE_TABLES: Final = "SELECT name FROM sqlite_master WHERE type = 'table'"


class MigrationError(StorageError):
    """The database's schema cannot be brought up to date safely."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered migration file.

    Attributes:
        version: its number (golang-migrate's version).
        name: the file name.
        sql: its statements.
    """

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
    found.sort(key=lambda m: m.version)
    return found


def _plan(
    row: tuple[int, bool] | None, tables: set[str], available: list[Migration]
) -> tuple[int | None, list[Migration]]:
    """Decide what to do: (version to record without running, migrations to run).

    Raises:
        MigrationError: the row is dirty, or newer than anything shipped.
    """
    latest = available[-1].version if available else 0
    baseline = None
    if row is not None:
        version, dirty = row
        if dirty:
            raise MigrationError(
                f"schema_migrations is dirty at version {version}: a previous migration "
                "failed part-way. Repair the schema by hand, then record the version "
                "(golang-migrate: migrate force N)."
            )
        if version > latest:
            raise MigrationError(
                f"database schema version {version} is newer than this release knows ({latest})"
            )
        current = max(version, 0)
    else:
        current = 0
        for version in sorted(_MARKERS):
            if _MARKERS[version] not in tables:
                break
            current = version
        if current:
            baseline = current
    return baseline, [m for m in available if m.version > current]


async def migrate_postgres(dsn: str) -> list[int]:
    """Bring a PostgreSQL database up to date.

    Args:
        dsn: a libpq URI (``postgres://user@host:5432/db?sslmode=disable``).

    Returns:
        The versions run, in order; empty when the schema was current.

    Raises:
        MigrationError: the version row is dirty or unknown.
        StorageError: the database is unreachable or a statement failed.
    """
    try:
        conn = await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StorageError(f"cannot connect to PostgreSQL: {exc}") from exc
    applied: list[int] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _PG_LOCK_ID)
        await conn.execute(_CREATE_VERSION_TABLE)
        record = await conn.fetchrow(_SELECT_VERSION)
        row = None if record is None else (int(record[0]), bool(record[1]))
        tables = {name for name in _MARKERS.values() if await conn.fetchval(_PG_TABLE_EXISTS, name)}
        baseline, pending = _plan(row, tables, available_migrations("postgresql"))
        if baseline is not None:
            log.info("existing Go notary schema found; recording version %d", baseline)
            async with conn.transaction():
                await conn.execute("TRUNCATE schema_migrations")
                await conn.execute(_PG_SET_VERSION, baseline)
        for migration in pending:
            log.info("applying migration %s", migration.name)
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute("TRUNCATE schema_migrations")
                await conn.execute(_PG_SET_VERSION, migration.version)
            applied.append(migration.version)
    except asyncpg.PostgresError as exc:
        raise StorageError(f"migration failed: {exc}") from exc
    finally:
        await conn.close()
    return applied


def migrate_sqlite_connection(conn: sqlite3.Connection) -> list[int]:
    """Bring the database behind an open autocommit connection up to date.

    Returns:
        The versions run, in order.

    Raises:
        MigrationError: the version row is dirty or unknown.
        StorageError: a statement failed (for example, the file is read-only).
    """
    applied: list[int] = []
    try:
        conn.execute(_CREATE_VERSION_TABLE)
        fetched = conn.execute(_SELECT_VERSION).fetchone()
        row = None if fetched is None else (int(fetched[0]), bool(fetched[1]))
        tables = {name for (name,) in conn.execute(_SQLITE_TABLES)}
        baseline, pending = _plan(row, tables, available_migrations("sqlite"))
        steps = [("", baseline)] if baseline is not None else []
        steps += [(m.sql, m.version) for m in pending]
        for sql, version in steps:
            # executescript commits any open transaction first, so the
            # transaction is part of the script; on failure it is rolled back.
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
    except sqlite3.Error as exc:
        raise StorageError(f"SQLite migration failed: {exc}") from exc
    return applied


def migrate_sqlite(db_url: str) -> list[int]:
    """Bring an SQLite database up to date; blocking, for tools and threads.

    Args:
        db_url: a Go-style sqlite3 ``db_url`` (a file path or ``file:`` URI).

    Returns:
        The versions run, in order.

    Raises:
        MigrationError: the version row is dirty or unknown.
        StorageError: the file cannot be opened or written.
    """
    conn = connect_sqlite(parse_sqlite_url(db_url))
    try:
        return migrate_sqlite_connection(conn)
    finally:
        conn.close()


async def migrate(backend: str, db_url: str) -> list[int]:
    """Migrate the database of a Go ``storage.backend`` name.

    Args:
        backend: ``postgres`` or ``sqlite3``.
        db_url: the backend's ``storage.db_url``.

    Returns:
        The versions run, in order.

    Raises:
        MigrationError: the version row is dirty or unknown.
        StorageError: the backend has no migrations, or migrating failed.
    """
    if backend == "postgres":
        return await migrate_postgres(db_url)
    if backend == "sqlite3":
        return await asyncio.to_thread(migrate_sqlite, db_url)
    raise StorageError(f"the {backend} storage backend has no migrations")
