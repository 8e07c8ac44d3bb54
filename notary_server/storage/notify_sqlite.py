"""The SQLite change tracker: ``PRAGMA data_version`` and the store's own write count.

See :mod:`notary_server.storage.notify` for what a tracker promises.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from notary_server.storage.notify import PROBE_TIMEOUT, ChangeTracker

if TYPE_CHECKING:
    from notary_server.cache import MetadataCache
    from notary_server.storage.sqlite import SqliteMetaStore

__all__ = ["SqliteChangeTracker", "open_sqlite_tracker"]

logger = logging.getLogger(__name__)


class SqliteChangeTracker(ChangeTracker):
    """``PRAGMA data_version`` + the connection's own write count; see the module docstring."""

    def __init__(self, store: SqliteMetaStore, cache: MetadataCache) -> None:
        """Track ``store``'s database file; call :meth:`start` next."""
        super().__init__(cache)
        self._store = store
        self._token: tuple[int, int] | None = None

    @property
    def available(self) -> bool:
        """Whether the store answered the last probe."""
        return self._token is not None

    async def start(self) -> None:
        """Read the initial change token."""
        await self._probe()

    async def _probe(self) -> bool:
        try:
            token = await asyncio.wait_for(self._store.change_token(), PROBE_TIMEOUT)
        except Exception:  # noqa: BLE001 - a closed or failing store: bypass the cache
            logger.warning("cache bypassed: the SQLite change token cannot be read")
            token = None
        if token != self._token:
            self._cache.flush()
            self._token = token
        return token is not None


async def open_sqlite_tracker(store: SqliteMetaStore, cache: MetadataCache) -> ChangeTracker:
    """A started tracker of ``store``'s database file."""
    tracker = SqliteChangeTracker(store, cache)
    await tracker.start()
    return tracker
