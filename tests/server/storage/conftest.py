"""The ``store`` fixture: one behaviour suite, every backend (memory | sqlite | postgres)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from notary_server.storage.memory import MemoryMetaStore
from notary_server.storage.migrate import migrate_postgres
from notary_server.storage.postgres import connect
from notary_server.storage.sqlite import open_sqlite
from testkit.pg import admin_dsn, require_postgres, throwaway_database

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from notary_server.storage.capabilities import Backend


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> str:
    """The superuser DSN; skips (or fails on CI) when PostgreSQL is unreachable."""
    dsn = admin_dsn()
    require_postgres(dsn)
    return dsn


@pytest.fixture(scope="session")
def server_db_dsn(postgres_admin_dsn: str) -> Iterator[str]:
    """A session-wide database with the server schema, dropped at the end."""
    with throwaway_database(postgres_admin_dsn, "notary_test_server") as dsn:
        asyncio.run(migrate_postgres(dsn))
        yield dsn


@pytest.fixture
async def postgres_store(server_db_dsn: str) -> AsyncIterator[Backend]:
    store = await connect(server_db_dsn, min_size=1, max_size=25)
    try:
        await store._pool.execute("TRUNCATE tuf_files, changefeed RESTART IDENTITY")
        yield store
    finally:
        await store.close()


@pytest.fixture
async def memory_store() -> AsyncIterator[Backend]:
    store = MemoryMetaStore()
    yield store
    await store.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Backend]:
    store = await open_sqlite(str(tmp_path / "server.db"))
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def store(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn, empty."""
    backend: Backend = request.getfixturevalue(f"{request.param}_store")
    return backend
