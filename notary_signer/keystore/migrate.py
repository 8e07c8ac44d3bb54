"""Schema migrations for the signer's SQL key stores, recorded as golang-migrate does.

The numbered ``.sql`` files under ``migrations/signer/<dialect>/`` ship as package
data (``notary_signer._migrations``, ADR 0029). PostgreSQL's is Go notary 0.7's own
DDL (Go's ``migrations/signer/postgresql``);
SQLite's reproduces the table gorm creates for Go's ``GormPrivateKey``.

The runner is :class:`notary_runtime.migrate.Migrator` (shared with the
server): the applied version is golang-migrate v4's ``schema_migrations`` row,
each file runs in one transaction with the version update, a dirty row is
refused, and a database that already has ``private_keys`` but no version row
(made by gorm or by hand) is baselined at version 1 rather than migrated
again. Every failure is a :class:`KeyStoreError`. Nothing is ever downgraded
or deleted.
"""

from __future__ import annotations

import logging
from typing import Final

from notary_runtime.migrate import Dialect, Migration, Migrator
from notary_signer.errors import KeyStoreError

__all__ = [
    "Dialect",
    "Migration",
    "available_migrations",
    "migrate",
    "migrate_postgres",
    "migrate_sqlite",
    "migrate_sqlite_connection",
]

MIGRATOR: Final = Migrator(
    package="notary_signer._migrations",  # migrations/signer/ (ADR 0029)
    markers={1: "private_keys"},
    lock_id=0x6E6F7461727973,  # "notarys": one signer migrator at a time per database
    error=KeyStoreError,
    refusal=KeyStoreError,
    logger=logging.getLogger(__name__),
    connect_timeout=10.0,
)
"""The signer's migrations; its methods raise :class:`KeyStoreError`."""

available_migrations: Final = MIGRATOR.available
migrate_postgres: Final = MIGRATOR.migrate_postgres
migrate_sqlite_connection: Final = MIGRATOR.migrate_sqlite_connection
migrate_sqlite: Final = MIGRATOR.migrate_sqlite
migrate: Final = MIGRATOR.migrate
