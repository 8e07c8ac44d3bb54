"""Opening SQLite databases named the way Go names them (go-sqlite3 ``db_url``).

A plain path (driver parameters after ``?`` are go-sqlite3's and are dropped,
except ``_busy_timeout`` in milliseconds), ``:memory:``, or a ``file:`` URI.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Final
from urllib.parse import parse_qs

from notary_signer.errors import KeyStoreError

__all__ = ["connect_sqlite"]

DEFAULT_BUSY_TIMEOUT_MS: Final = 5000  # go-sqlite3's default


def connect_sqlite(db_url: str) -> sqlite3.Connection:
    """Open an autocommit connection (WAL where possible) for the calling thread.

    Raises:
        KeyStoreError: the URL is empty or malformed, or the database cannot be opened.
    """
    if not db_url:
        raise KeyStoreError("the sqlite3 backend needs a db_url (a file path)")
    database, _, query = db_url.partition("?")
    params = parse_qs(query)
    value = (params.get("_busy_timeout") or params.get("_timeout") or [""])[0]
    try:
        busy_ms = int(value) if value else DEFAULT_BUSY_TIMEOUT_MS
    except ValueError:
        raise KeyStoreError("invalid _busy_timeout in the sqlite3 db_url") from None
    uri = db_url.startswith("file:")
    try:
        conn = sqlite3.connect(
            db_url if uri else database, timeout=busy_ms / 1000, isolation_level=None, uri=uri
        )
    except sqlite3.Error as e:
        raise KeyStoreError(f"cannot open SQLite database {database}: {e}") from e
    with contextlib.suppress(sqlite3.OperationalError):
        conn.execute("PRAGMA journal_mode=WAL")
    return conn
