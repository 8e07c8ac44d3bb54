"""Fixtures for the server API tests: a config, an in-memory store, a local trust service, a client.

Everything is a fake at our own seams (``MemoryMetaStore``, ``LocalCryptoService``);
the HTTP layer is the real aiohttp application behind pytest-aiohttp's test client.
"""

from __future__ import annotations

import pytest
from pytest_aiohttp import AiohttpClient

from notary_server.app import create_app
from notary_server.config import ServerConfig
from notary_server.storage.capabilities import Backend
from notary_server.storage.memory import MemoryMetaStore
from notary_server.trust.local import LocalCryptoService
from testkit.server_helpers import AppClient, ClientFactory, make_config


@pytest.fixture
def config() -> ServerConfig:
    return make_config()


@pytest.fixture
def memory_store() -> MemoryMetaStore:
    return MemoryMetaStore()


@pytest.fixture
def crypto() -> LocalCryptoService:
    return LocalCryptoService()


@pytest.fixture
def make_client(
    aiohttp_client: AiohttpClient, memory_store: MemoryMetaStore, crypto: LocalCryptoService
) -> ClientFactory:
    """Build a client on ``create_app``; the store defaults to ``memory_store``."""

    async def build(
        config: ServerConfig | None = None, *, store: Backend | None = None
    ) -> AppClient:
        app = create_app(
            config if config is not None else make_config(),
            store=store if store is not None else memory_store,
            crypto=crypto,
        )
        return await aiohttp_client(app)

    return build


@pytest.fixture
async def client(make_client: ClientFactory, config: ServerConfig) -> AppClient:
    return await make_client(config)
