"""Choosing a metadata store by Go's ``storage.backend`` name.

An explicit table, never discovery: the names are Go's (``const.go``:
``memory``, ``sqlite3``, ``postgres``), and the backends Go has that this
server does not (``mysql``, ``rethinkdb``) fail with a clear message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from notary_server.storage import StorageError
from notary_server.storage.memory import MemoryMetaStore
from notary_server.storage.postgres import connect
from notary_server.storage.sqlite import open_sqlite

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from notary_server.storage.capabilities import Backend

__all__ = ["BACKENDS", "UNSUPPORTED_BACKENDS", "open_store"]


async def _open_memory(_db_url: str | None) -> Backend:
    return MemoryMetaStore()


async def _open_sqlite(db_url: str | None) -> Backend:
    return await open_sqlite(_require_url("sqlite3", db_url))


async def _open_postgres(db_url: str | None) -> Backend:
    return await connect(_require_url("postgres", db_url))


def _require_url(backend: str, db_url: str | None) -> str:
    if not db_url:
        raise StorageError(f"the {backend} storage backend needs storage.db_url")
    return db_url


BACKENDS: Final[Mapping[str, Callable[[str | None], Awaitable[Backend]]]] = {
    "memory": _open_memory,
    "sqlite3": _open_sqlite,
    "postgres": _open_postgres,
}
"""Opener of each supported backend, by Go's name."""

UNSUPPORTED_BACKENDS: Final = frozenset({"mysql", "rethinkdb"})
"""Go notary backends this server does not implement."""


async def open_store(backend: str, db_url: str | None) -> Backend:
    """Open the metadata store Go's ``storage`` configuration names.

    Args:
        backend: ``memory``, ``sqlite3`` or ``postgres``.
        db_url: the backend's ``db_url`` (ignored by ``memory``).

    Raises:
        StorageError: the backend is unknown or unsupported, ``db_url`` is
            missing, or the store cannot be opened.
    """
    opener = BACKENDS.get(backend)
    if opener is None:
        if backend in UNSUPPORTED_BACKENDS:
            raise StorageError(
                f"the {backend} storage backend is not supported; use one of: {', '.join(BACKENDS)}"
            )
        raise StorageError(f"{backend} is not a supported storage backend")
    return await opener(db_url)
