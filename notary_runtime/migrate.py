"""Schema migrations recorded the way golang-migrate records them, for either service.

Each service ships numbered ``.sql`` files under ``<package>/<dialect>/`` as
package data (``0001_initial.sql``…; the package is mapped from the top-level
``migrations/<service>/``, ADR 0029) and describes itself with a
:class:`Migrator`: where the files are, which tables show that a version was
applied, its PostgreSQL advisory lock, and its exception classes.

The applied version lives in ``schema_migrations (version bigint, dirty
boolean)``, one row, as golang-migrate v4 keeps it, so that a database Go's
tooling migrated is recognised here and the reverse. Each file runs in one
transaction together with the version update (DDL is transactional in both
databases), so a failure leaves the previous version in place rather than a
dirty row. A dirty row, left by golang-migrate, is refused.

A database that has Go's tables but no version row (set up by gorm or by
hand) is *baselined*: the versions whose marker tables exist are recorded,
not re-run. Nothing is ever downgraded or deleted.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Final, Literal

import asyncpg

from notary_runtime.sqlite import connect_sqlite, parse_sqlite_url

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

    from notary_runtime import ErrorFactory

__all__ = ["Dialect", "Migration", "Migrator"]

Dialect = Literal["postgresql", "sqlite"]

_FILE_NAME: Final = re.compile(r"^(\d+)_[A-Za-z0-9_]+\.sql$")
_CREATE_VERSION_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
)
_SELECT_VERSION: Final = (
    "SELECT version, dirty FROM schema_migrations ORDER BY version DESC LIMIT 1"
)
_PG_TABLE_EXISTS: Final = "SELECT to_regclass($1) IS NOT NULL"
_PG_SET_VERSION: Final = "INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)"
_SQLITE_TABLES: Final = "SELECT name FROM sqlite_master WHERE type = 'table'"


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Migrator:
    """The schema migrations of one service's database.

    Attributes:
        package: the package whose ``<dialect>/`` folder holds the files.
        markers: version → a table whose presence shows that version was
            applied, for baselining a database without a version row.
        lock_id: the PostgreSQL advisory lock: one migrator at a time per database.
        error: builds the exception for a failure (unreachable database,
            failed statement, unknown backend).
        refusal: builds the exception for a schema it will not touch (a dirty
            version row, or one newer than the shipped files).
        logger: where progress is reported.
        connect_timeout: seconds to wait for a PostgreSQL connection.
    """

    package: str
    markers: Mapping[int, str]
    lock_id: int
    error: ErrorFactory
    refusal: ErrorFactory
    logger: logging.Logger
    connect_timeout: float = 60.0

    def available(self, dialect: Dialect) -> list[Migration]:
        """Return the migrations shipped for ``dialect``, in version order."""
        found = []
        for entry in (resources.files(self.package) / dialect).iterdir():
            match = _FILE_NAME.match(entry.name)
            if match:
                text = entry.read_text(encoding="utf-8")
                found.append(Migration(int(match[1]), entry.name, text))
        return sorted(found, key=lambda m: m.version)

    def plan(
        self, row: tuple[int, bool] | None, tables: set[str], available: list[Migration]
    ) -> tuple[int | None, list[Migration]]:
        """Decide what to do: (version to record without running, migrations to run).

        Args:
            row: the ``schema_migrations`` row (version, dirty), if any.
            tables: the names of the existing tables (at least the markers').
            available: the shipped migrations, in version order.

        Raises:
            Exception: built by ``refusal``: the row is dirty, or newer than anything shipped.
        """
        latest = available[-1].version if available else 0
        baseline = None
        if row is not None:
            version, dirty = row
            if dirty:
                raise self.refusal(
                    f"schema_migrations is dirty at version {version}: a previous migration "
                    "failed part-way. Repair the schema by hand, then record the version "
                    "(golang-migrate: migrate force N)."
                )
            if version > latest:
                raise self.refusal(
                    f"database schema version {version} is newer than this release knows ({latest})"
                )
            current = max(version, 0)
        else:
            current = 0
            for version in sorted(self.markers):
                if self.markers[version] not in tables:
                    break
                current = version
            if current:
                baseline = current
        return baseline, [m for m in available if m.version > current]

    async def migrate_postgres(self, dsn: str) -> list[int]:
        """Bring a PostgreSQL database up to date.

        Args:
            dsn: a libpq URI (``postgres://user@host:5432/db?sslmode=disable``).

        Returns:
            The versions run, in order; empty when the schema was current.

        Raises:
            Exception: built by ``refusal`` (dirty or unknown version) or by
                ``error`` (unreachable, or a statement failed).
        """
        try:
            conn = await asyncpg.connect(dsn, timeout=self.connect_timeout)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise self.error(f"cannot connect to PostgreSQL: {exc}") from exc
        applied: list[int] = []
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", self.lock_id)
            await conn.execute(_CREATE_VERSION_TABLE)
            record = await conn.fetchrow(_SELECT_VERSION)
            row = None if record is None else (int(record[0]), bool(record[1]))
            tables = {
                name
                for name in self.markers.values()
                if await conn.fetchval(_PG_TABLE_EXISTS, name)
            }
            baseline, pending = self.plan(row, tables, self.available("postgresql"))
            for sql, version, name in self._steps(baseline, pending):
                async with conn.transaction():
                    if sql:
                        self.logger.info("applying migration %s", name)
                        await conn.execute(sql)
                    await conn.execute("DELETE FROM schema_migrations")
                    await conn.execute(_PG_SET_VERSION, version)
                if sql:
                    applied.append(version)
        except asyncpg.PostgresError as exc:
            raise self.error(f"migration failed: {exc}") from exc
        finally:
            await conn.close()
        return applied

    def migrate_sqlite_connection(self, conn: sqlite3.Connection) -> list[int]:
        """Bring the database behind an open autocommit connection up to date (blocking).

        Returns:
            The versions run, in order.

        Raises:
            Exception: built by ``refusal`` (dirty or unknown version) or by
                ``error`` (a statement failed, for example on a read-only file).
        """
        applied: list[int] = []
        try:
            conn.execute(_CREATE_VERSION_TABLE)
            fetched = conn.execute(_SELECT_VERSION).fetchone()
            row = None if fetched is None else (int(fetched[0]), bool(fetched[1]))
            tables = {name for (name,) in conn.execute(_SQLITE_TABLES)}
            baseline, pending = self.plan(row, tables, self.available("sqlite"))
            for sql, version, name in self._steps(baseline, pending):
                if sql:
                    self.logger.info("applying migration %s", name)
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
            raise self.error(f"SQLite migration failed: {exc}") from exc
        return applied

    def migrate_sqlite(self, db_url: str) -> list[int]:
        """Bring an SQLite database up to date; blocking, for tools and threads.

        Args:
            db_url: a Go-style sqlite3 ``db_url`` (a file path or ``file:`` URI).

        Returns:
            The versions run, in order.

        Raises:
            Exception: built by ``refusal`` (dirty or unknown version) or by
                ``error`` (the file cannot be opened or written).
        """
        conn = connect_sqlite(parse_sqlite_url(db_url, error=self.error), error=self.error)
        try:
            return self.migrate_sqlite_connection(conn)
        finally:
            conn.close()

    async def migrate(self, backend: str, db_url: str) -> list[int]:
        """Migrate the database of a Go ``storage.backend`` name.

        Args:
            backend: ``postgres`` or ``sqlite3``.
            db_url: the backend's ``storage.db_url``.

        Returns:
            The versions run, in order.

        Raises:
            Exception: built by ``refusal`` (dirty or unknown version) or by
                ``error`` (the backend has no migrations, or migrating failed).
        """
        if backend == "postgres":
            return await self.migrate_postgres(db_url)
        if backend == "sqlite3":
            return await asyncio.to_thread(self.migrate_sqlite, db_url)
        raise self.error(f"the {backend} storage backend has no migrations")

    def _steps(self, baseline: int | None, pending: list[Migration]) -> list[tuple[str, int, str]]:
        """(SQL, version, name) to commit in turn; a baseline records a version and runs no SQL."""
        steps = []
        if baseline is not None:
            self.logger.info("existing Go notary schema found; recording version %d", baseline)
            steps.append(("", baseline, ""))
        steps += [(m.sql, m.version, m.name) for m in pending]
        return steps
