"""Fixtures for the hardening tests: the real app on a memory or a PostgreSQL store.

The HTTP layer is the real aiohttp application (``create_app``) behind
pytest-aiohttp's test client; the trust service is the local one. The
PostgreSQL store lives in one throwaway database per session (shared server:
nothing here restarts it), emptied before each test.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from pytest_aiohttp import AiohttpClient

from notary_server.app import create_app
from notary_server.config import ServerConfig
from notary_server.storage.base import MetaStore
from notary_server.storage.memory import MemoryMetaStore
from notary_server.storage.migrate import migrate_postgres
from notary_server.storage.postgres import PostgresMetaStore, connect
from notary_server.trust.local import LocalCryptoService
from tests.pg import admin_dsn, require_postgres, throwaway_database
from tests.server.helpers import AppClient, ClientFactory, make_config


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

    async def build(store: MetaStore, config: ServerConfig | None = None) -> AppClient:
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
