"""Opening SQLite databases named the way Go notary-server names them.

Go passes ``storage.db_url`` straight to ``github.com/mattn/go-sqlite3``, which
accepts a file path (``/var/lib/notary/server.db``), ``:memory:``, or an SQLite
URI (``file:server.db?mode=ro``), each optionally followed by ``?`` and driver
parameters such as ``_busy_timeout=10000`` (milliseconds; default 5000). This
module parses those forms and opens a connection configured the same way.
It does not run any schema changes (see :mod:`notary_server.storage.migrate`).
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs

from notary_server.storage import StorageError

__all__ = ["DEFAULT_BUSY_TIMEOUT_MS", "SqliteTarget", "connect_sqlite", "parse_sqlite_url"]

DEFAULT_BUSY_TIMEOUT_MS: Final = 5000
"""go-sqlite3's default ``_busy_timeout``."""


@dataclass(frozen=True, slots=True)
class SqliteTarget:
    """Where and how to open a database.

    Attributes:
        database: what to pass to :func:`sqlite3.connect`.
        uri: ``database`` is an SQLite ``file:`` URI.
        busy_timeout_ms: how long a writer waits for another's lock.
    """

    database: str
    uri: bool
    busy_timeout_ms: int


def parse_sqlite_url(db_url: str) -> SqliteTarget:
    """Parse a Go-style sqlite3 ``db_url`` (go-sqlite3 ``SQLiteDriver.Open``).

    Raises:
        StorageError: the URL is empty or a driver parameter is malformed.
    """
    if not db_url:
        raise StorageError("the sqlite3 backend needs a db_url (a file path)")
    database = db_url
    busy_timeout = DEFAULT_BUSY_TIMEOUT_MS
    pos = db_url.find("?")
    if pos >= 1:
        params = parse_qs(db_url[pos + 1 :])
        value = (params.get("_busy_timeout") or params.get("_timeout") or [""])[0]
        if value:
            try:
                busy_timeout = int(value)
            except ValueError:
                raise StorageError(f"invalid _busy_timeout in sqlite3 db_url: {value!r}") from None
        # As in go-sqlite3, parameters after a plain path are the driver's
        # only; a file: URI keeps them (SQLite ignores the ones it does not know).
        if not db_url.startswith("file:"):
            database = db_url[:pos]
    return SqliteTarget(
        database=database, uri=database.startswith("file:"), busy_timeout_ms=busy_timeout
    )


def connect_sqlite(target: SqliteTarget) -> sqlite3.Connection:
    """Open a connection in autocommit mode, WAL journal where possible.

    Transactions are begun explicitly (``BEGIN IMMEDIATE``) by the callers.
    The connection belongs to the calling thread.

    Raises:
        StorageError: the database cannot be opened.
    """
    try:
        conn = sqlite3.connect(
            target.database,
            timeout=target.busy_timeout_ms / 1000,
            isolation_level=None,
            uri=target.uri,
        )
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open SQLite database {target.database}: {exc}") from exc
    # WAL lets readers in other processes (a Go server, sqlite3 CLI) work
    # alongside our writer. It cannot be set on a read-only or in-memory
    # database, which then keeps its journal mode; that is not an error.
    with contextlib.suppress(sqlite3.OperationalError):
        conn.execute("PRAGMA journal_mode=WAL")
    return conn
