"""Fixtures for the token-auth tests: a test issuer and apps with and without auth on one store."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient

from notary_server.app import create_app
from notary_server.config import TokenAuthConfig
from notary_server.storage.memory import MemoryMetaStore
from notary_server.trust.local import LocalCryptoService
from testkit.issuer import TestIssuer
from testkit.server_helpers import AppClient, make_config


@pytest.fixture(scope="session")
def token_issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
def auth_config(token_issuer: TestIssuer, tmp_path: Path) -> TokenAuthConfig:
    return token_issuer.config(tmp_path)


@pytest.fixture
def store() -> MemoryMetaStore:
    return MemoryMetaStore()


@pytest.fixture
def crypto() -> LocalCryptoService:
    return LocalCryptoService()


@pytest.fixture
async def open_client(
    aiohttp_client: AiohttpClient, store: MemoryMetaStore, crypto: LocalCryptoService
) -> AppClient:
    """A client of an app without auth on the shared store (to set data up)."""
    return await aiohttp_client(create_app(make_config(), store=store, crypto=crypto))


@pytest.fixture
async def auth_client(
    aiohttp_client: AiohttpClient,
    store: MemoryMetaStore,
    crypto: LocalCryptoService,
    auth_config: TokenAuthConfig,
) -> AppClient:
    """A client of an app with token auth on the shared store."""
    config = dataclasses.replace(make_config(), auth=auth_config)
    return await aiohttp_client(create_app(config, store=store, crypto=crypto))
