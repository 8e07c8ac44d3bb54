"""Schema migrations for the server's SQL stores, recorded the way golang-migrate records them.

The numbered ``.sql`` files under ``migrations/server/<backend>/`` ship as package
data (``notary_server._migrations``, ADR 0029). PostgreSQL's are Go notary 0.7's own
DDL (Go's ``migrations/server/postgresql``);
SQLite's reproduce the tables gorm's AutoMigrate creates for Go's sqlite3
backend, which Go never migrated with files.

The runner is :class:`notary_runtime.migrate.Migrator` (shared with the
signer): the applied version is golang-migrate v4's ``schema_migrations`` row,
each file runs in one transaction with the version update, a dirty row is
refused, and a database that has Go's tables (``tuf_files``, ``changefeed``)
but no version row is *baselined* rather than migrated again. This module
never downgrades and never deletes data.
"""

from __future__ import annotations

import logging
from typing import Final

from notary_runtime.migrate import Dialect, Migration, Migrator
from notary_server.storage import StorageError

__all__ = [
    "Dialect",
    "Migration",
    "MigrationError",
    "available_migrations",
    "migrate",
    "migrate_postgres",
    "migrate_sqlite",
    "migrate_sqlite_connection",
]


class MigrationError(StorageError):
    """The database's schema cannot be brought up to date safely."""


MIGRATOR: Final = Migrator(
    package="notary_server._migrations",  # migrations/server/ (ADR 0029)
    # Tables whose presence shows that a version was applied (baselining).
    markers={1: "tuf_files", 2: "changefeed"},
    lock_id=0x6E6F74617279,  # "notary": one migrator at a time per database
    error=StorageError,
    refusal=MigrationError,
    logger=logging.getLogger(__name__),
)
"""The server's migrations; its methods raise :class:`StorageError` or :class:`MigrationError`."""

available_migrations: Final = MIGRATOR.available
migrate_postgres: Final = MIGRATOR.migrate_postgres
migrate_sqlite_connection: Final = MIGRATOR.migrate_sqlite_connection
migrate_sqlite: Final = MIGRATOR.migrate_sqlite
migrate: Final = MIGRATOR.migrate
