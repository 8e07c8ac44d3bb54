"""Fixtures for the hardening tests: the real app on a memory or a PostgreSQL store.

The HTTP layer is the real aiohttp application (``create_app``) behind
pytest-aiohttp's test client; the trust service is the local one. The
PostgreSQL store lives in one throwaway database per session (shared server:
nothing here restarts it), emptied before each test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from notary_server.app import create_app
from notary_server.config import ServerConfig
from notary_server.storage.capabilities import Backend
from notary_server.storage.memory import MemoryMetaStore
from notary_server.storage.migrate import migrate_postgres, migrate_sqlite
from notary_server.storage.postgres import PostgresMetaStore, connect
from notary_server.storage.sqlite import open_sqlite
from notary_server.trust.local import LocalCryptoService
from testkit.pg import admin_dsn, require_postgres, throwaway_database
from testkit.server_helpers import AppClient, ClientFactory, make_config


@pytest.fixture(scope="session")
def hardening_db() -> Iterator[str]:
    admin = admin_dsn()
    require_postgres(admin)
    with throwaway_database(admin, "notary_hardening") as dsn:
        asyncio.run(migrate_postgres(dsn))
        yield dsn


@pytest.fixture
async def pg_store(hardening_db: str) -> AsyncIterator[PostgresMetaStore]:
    store = await connect(hardening_db, min_size=1, max_size=30)
    try:
        await store._pool.execute("TRUNCATE tuf_files, changefeed RESTART IDENTITY")
        yield store
    finally:
        await store.close()


@pytest.fixture
def memory_store() -> MemoryMetaStore:
    return MemoryMetaStore()


@pytest.fixture
def crypto() -> LocalCryptoService:
    return LocalCryptoService()


@pytest.fixture
def make_client(aiohttp_client: AiohttpClient, crypto: LocalCryptoService) -> ClientFactory:
    """Build a client on ``create_app`` over the given store (and config)."""

    async def build(store: Backend, config: ServerConfig | None = None) -> AppClient:
        app = create_app(
            config if config is not None else make_config(), store=store, crypto=crypto
        )
        return await aiohttp_client(app)

    return build


@pytest.fixture
async def memory_env(
    memory_store: MemoryMetaStore, make_client: ClientFactory
) -> tuple[AppClient, MemoryMetaStore]:
    """A client on a fresh memory store."""
    return await make_client(memory_store), memory_store


@pytest.fixture
async def pg_env(
    pg_store: PostgresMetaStore, make_client: ClientFactory
) -> tuple[AppClient, PostgresMetaStore]:
    """A client on an empty PostgreSQL store (set up first, so torn down after the app)."""
    return await make_client(pg_store), pg_store


# SQLite and PostgreSQL in turn: issue #14 asks each attack of both backends.


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite``, or the DSN of the session's PostgreSQL database."""
    return "sqlite" if request.param == "sqlite" else request.getfixturevalue("hardening_db")


async def open_store(backend: str, tmp_path: Path) -> Backend:
    """An empty migrated store: SQLite in ``tmp_path``, or the PostgreSQL database emptied."""
    if backend == "sqlite":
        path = tmp_path / "server.db"
        migrate_sqlite(str(path))
        return await open_sqlite(str(path))
    store = await connect(backend, min_size=1, max_size=10)
    await store._pool.execute("TRUNCATE tuf_files, changefeed RESTART IDENTITY")
    return store


@pytest.fixture
async def sql_store(sql_backend: str, tmp_path: Path) -> AsyncIterator[Backend]:
    opened = await open_store(sql_backend, tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def sql_env(sql_store: Backend, make_client: ClientFactory) -> tuple[AppClient, Backend]:
    """The real app on SQLite, then on PostgreSQL (the store set up first: closed after the app)."""
    return await make_client(sql_store), sql_store
