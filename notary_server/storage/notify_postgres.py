"""The PostgreSQL change tracker: ``LISTEN`` on the channel migration 0003's triggers notify.

See :mod:`notary_server.storage.notify` for what a tracker promises.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Final

import asyncpg

from notary_server.storage.notify import CHANNEL, PROBE_TIMEOUT, RETRY_DELAY, ChangeTracker
from notary_server.storage.postgres import CONNECTION_ERRORS

if TYPE_CHECKING:
    from notary_server.cache import MetadataCache

__all__ = ["PostgresChangeTracker", "open_postgres_tracker"]

logger = logging.getLogger(__name__)

_HAS_TRIGGER: Final = """
SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('tuf_files')
               AND tgname = 'notary_tuf_files_notify_insert')
"""


class PostgresChangeTracker(ChangeTracker):
    """``LISTEN`` on a dedicated pool connection; see the module docstring."""

    def __init__(self, pool: asyncpg.Pool, cache: MetadataCache) -> None:
        """Track ``pool``'s database; call :meth:`start` next."""
        super().__init__(cache)
        self._pool = pool
        self._conn: Any = None  # a pool connection proxy while listening
        self._reconnect: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def available(self) -> bool:
        """Whether a connection is listening."""
        return self._conn is not None

    async def start(self) -> None:
        """Start listening (or, if the database is unreachable, keep trying in the background)."""
        if not await self._listen():
            self._schedule_reconnect()

    async def _listen(self) -> bool:
        try:
            conn = await self._pool.acquire()
        except CONNECTION_ERRORS as exc:
            logger.warning("cache disabled: cannot open a LISTEN connection: %s", exc)
            return False
        try:
            conn.add_termination_listener(self._on_terminated)
            await conn.add_listener(CHANNEL, self._on_notify)
        except CONNECTION_ERRORS as exc:
            logger.warning("cache disabled: LISTEN %s failed: %s", CHANNEL, exc)
            await self._release(conn)
            return False
        # Changes made while nobody listened are unknown: start from nothing.
        self._cache.flush()
        self._conn = conn
        return True

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        if isinstance(payload, str) and payload:
            self._cache.invalidate(payload)
        else:
            self._cache.flush()

    def _on_terminated(self, _conn: object) -> None:
        self._lost("the LISTEN connection was closed")

    def _lost(self, reason: str) -> None:
        conn, self._conn = self._conn, None
        self._cache.flush()
        if conn is None or self._closed:
            return
        logger.warning("cache disabled until PostgreSQL is reachable again: %s", reason)
        task = asyncio.get_running_loop().create_task(self._release(conn))
        task.add_done_callback(lambda _t: self._schedule_reconnect())

    async def _release(self, conn: Any) -> None:
        with contextlib.suppress(*CONNECTION_ERRORS, TimeoutError):
            await conn.remove_listener(CHANNEL, self._on_notify)
        with contextlib.suppress(*CONNECTION_ERRORS, TimeoutError):
            await self._pool.release(conn, timeout=PROBE_TIMEOUT)

    def _schedule_reconnect(self) -> None:
        if self._closed or (self._reconnect is not None and not self._reconnect.done()):
            return
        self._reconnect = asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        while not self._closed and self._conn is None:
            await asyncio.sleep(RETRY_DELAY)
            if await self._listen():
                logger.warning("cache enabled again: listening for changes")

    async def _probe(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            await conn.execute("SELECT 1", timeout=PROBE_TIMEOUT)
        except (*CONNECTION_ERRORS, TimeoutError) as exc:
            if conn is self._conn:
                self._lost(f"probe failed: {exc!r}")
            return False
        return conn is self._conn

    async def close(self) -> None:
        """Stop listening and give the connection back to the pool."""
        self._closed = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect
        await super().close()
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._release(conn)


async def open_postgres_tracker(pool: asyncpg.Pool, cache: MetadataCache) -> ChangeTracker | None:
    """A started tracker, or None when the database has no change-notification trigger."""
    try:
        has_trigger = await pool.fetchval(_HAS_TRIGGER)
    except CONNECTION_ERRORS as exc:
        logger.warning("cannot check for the change-notification trigger: %s", exc)
        has_trigger = False
    if not has_trigger:
        logger.warning(
            "tuf_files has no change-notification trigger (run `python -m notary_server "
            "migrate`); only validated caching is used"
        )
        return None
    tracker = PostgresChangeTracker(pool, cache)
    await tracker.start()
    return tracker
