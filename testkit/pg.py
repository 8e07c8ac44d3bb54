"""Throwaway PostgreSQL databases for tests (server storage, signer key store, integration).

The server is taken from ``NOTARY_TEST_POSTGRES_DSN`` (a superuser DSN,
default ``postgresql://postgres@127.0.0.1:5432/postgres``). When it cannot be
reached, :func:`require_postgres` skips the test locally and fails it when
``CI=true``, so that "postgres tests skipped" cannot pass CI unnoticed.

Typical use, in a session-scoped fixture::

    admin = admin_dsn()
    require_postgres(admin)
    with throwaway_database(admin, "notary_test") as dsn:
        asyncio.run(migrate_postgres(dsn))
        yield dsn
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from testkit.ci import missing_real_part

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "DEFAULT_DSN",
    "admin_dsn",
    "create_database",
    "database_dsn",
    "drop_database",
    "postgres_unavailable_reason",
    "require_postgres",
    "throwaway_database",
]

DEFAULT_DSN: Final = "postgresql://postgres@127.0.0.1:5432/postgres"
CONNECT_TIMEOUT: Final = 5.0


def admin_dsn() -> str:
    """Return the DSN of the test server's maintenance database."""
    return os.environ.get("NOTARY_TEST_POSTGRES_DSN") or DEFAULT_DSN


def database_dsn(dsn: str, database: str) -> str:
    """Return ``dsn`` pointing at another database on the same server."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


async def _probe(dsn: str) -> str | None:
    try:
        conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return f"PostgreSQL at {dsn} is unreachable: {exc!r}"
    await conn.close()
    return None


_probed: dict[str, str | None] = {}


def postgres_unavailable_reason(dsn: str) -> str | None:
    """Return why ``dsn`` cannot be used, or None when it can (probed once per process)."""
    if dsn not in _probed:
        _probed[dsn] = asyncio.run(_probe(dsn))
    return _probed[dsn]


def require_postgres(dsn: str) -> None:
    """Skip the test (fail it when ``CI=true``) unless ``dsn`` can be reached."""
    reason = postgres_unavailable_reason(dsn)
    if reason is None:
        return
    missing_real_part(f"{reason}; set NOTARY_TEST_POSTGRES_DSN")


async def create_database(admin: str, prefix: str = "notary_test") -> str:
    """Create a uniquely named, empty database and return its DSN."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(admin, timeout=CONNECT_TIMEOUT)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_dsn(admin, name)


async def drop_database(admin: str, dsn: str) -> None:
    """Drop the database ``dsn`` names, disconnecting whoever is still on it."""
    name = urlsplit(dsn).path.lstrip("/")
    conn = await asyncpg.connect(admin, timeout=CONNECT_TIMEOUT)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.contextmanager
def throwaway_database(admin: str, prefix: str = "notary_test") -> Iterator[str]:
    """Create a database for the duration of the block (sync; for session fixtures)."""
    dsn = asyncio.run(create_database(admin, prefix))
    try:
        yield dsn
    finally:
        asyncio.run(drop_database(admin, dsn))
