"""Choosing a store by Go's ``storage.backend`` name."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from notary_server.storage import StorageError, open_store
from notary_server.storage.memory import MemoryMetaStore
from notary_server.storage.registry import BACKENDS
from notary_server.storage.sqlite import SqliteMetaStore

if TYPE_CHECKING:
    from pathlib import Path


def test_backend_names_are_gos() -> None:
    assert set(BACKENDS) == {"memory", "sqlite3", "postgres"}


async def test_memory_ignores_db_url() -> None:
    store = await open_store("memory", None)
    assert isinstance(store, MemoryMetaStore)


async def test_sqlite3(tmp_path: Path) -> None:
    store = await open_store("sqlite3", str(tmp_path / "server.db"))
    try:
        assert isinstance(store, SqliteMetaStore)
        await store.check_health()
    finally:
        await store.close()


@pytest.mark.parametrize("backend", ["mysql", "rethinkdb"])
async def test_go_backends_we_do_not_support(backend: str) -> None:
    with pytest.raises(StorageError, match=f"the {backend} storage backend is not supported"):
        await open_store(backend, "whatever")


async def test_unknown_backend() -> None:
    with pytest.raises(StorageError, match="redis is not a supported storage backend"):
        await open_store("redis", None)


@pytest.mark.parametrize("backend", ["sqlite3", "postgres"])
async def test_db_url_required(backend: str) -> None:
    with pytest.raises(StorageError, match=r"needs storage\.db_url"):
        await open_store(backend, None)
