"""Fixtures for the service-level admin tests: an app on a memory or SQLite store, local keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from notary_server.app import create_app
from notary_server.storage.memory import MemoryMetaStore
from notary_server.storage.sqlite import open_sqlite
from notary_server.trust.local import LocalCryptoService
from testkit.server_helpers import AppClient, make_config

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from pytest_aiohttp import AiohttpClient

    from notary_server.storage.capabilities import Backend


@pytest.fixture
def crypto() -> LocalCryptoService:
    return LocalCryptoService()


@pytest.fixture(params=["memory", "sqlite3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    opened: Backend
    if request.param == "memory":
        opened = MemoryMetaStore()
    else:
        opened = await open_sqlite(str(tmp_path / "server.db"))
    yield opened
    await opened.close()


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, store: Backend, crypto: LocalCryptoService
) -> AppClient:
    return await aiohttp_client(create_app(make_config(), store=store, crypto=crypto))
