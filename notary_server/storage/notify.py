"""Keeping the metadata cache coherent with the database (beyond Go; issue #8).

A :class:`ChangeTracker` applies every committed change of ``tuf_files`` to a
:class:`~notary_server.cache.MetadataCache` and answers one question before a
cached file is served: :meth:`ChangeTracker.sync` -- "has every change that
committed before this call been applied?". Only a ``True`` answer lets the
caller serve from the cache; ``False`` means "read the database".

* **PostgreSQL** (migration 0003): triggers on ``tuf_files`` ``NOTIFY`` the
  channel :data:`CHANNEL` with the GUN of every row inserted, updated or
  deleted -- by this server, another worker, another replica, a Go server or
  an operator's ``psql`` -- and ``''`` (everything) on ``TRUNCATE``. Each
  process ``LISTEN`` s on a dedicated connection. Notifications are delivered
  asynchronously, so ``sync`` sends a ``SELECT 1`` on that connection: the
  server delivers every notification already committed before it answers,
  and asyncpg runs the listener before the query's result. Concurrent
  callers share one round trip, so the cost is one tiny query per batch of
  requests, not per request. If the connection drops or a probe fails, the
  cache is flushed and bypassed until a new connection is listening.
* **SQLite**: ``PRAGMA data_version`` changes when another connection (a
  second server process, ``sqlite3``) commits, and the store's own connection
  counts its writes (``total_changes``); when the pair changes, the cache is
  flushed. Same coalesced ``sync``.
* **memory** (one process) has no tracker: the reader validates each cached
  chain against the current timestamp row instead.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Final

import asyncpg

from notary_server.storage.postgres import CONNECTION_ERRORS, PostgresMetaStore
from notary_server.storage.sqlite import SqliteMetaStore

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from notary_server.cache import MetadataCache
    from notary_server.storage.base import MetaStore

__all__ = [
    "CHANNEL",
    "ChangeTracker",
    "PostgresChangeTracker",
    "SqliteChangeTracker",
    "open_tracker",
]

logger = logging.getLogger(__name__)

CHANNEL: Final = "notary_tuf_files"
"""The channel migration 0003's triggers notify; the payload is a GUN, or ``''`` for all."""

PROBE_TIMEOUT: Final = 2.0
"""Seconds a coherence probe may take before the cache is bypassed."""

RETRY_DELAY: Final = 1.0
"""Seconds between attempts to re-open a lost ``LISTEN`` connection."""

_HAS_TRIGGER: Final = """
SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass('tuf_files')
               AND tgname = 'notary_tuf_files_notify_insert')
"""


class _Barrier:
    """Coalesces probes: each caller waits for a probe that *started* after it called."""

    def __init__(self, probe: Callable[[], Awaitable[bool]]) -> None:
        self._probe = probe
        self._pending: asyncio.Future[bool] | None = None
        self._runner: asyncio.Task[None] | None = None

    async def wait(self) -> bool:
        pending = self._pending
        if pending is None:
            pending = self._pending = asyncio.get_running_loop().create_future()
            if self._runner is None:
                self._runner = asyncio.get_running_loop().create_task(self._run())
        # shield: one caller's cancellation must not cancel the answer for the others.
        return await asyncio.shield(pending)

    async def _run(self) -> None:
        try:
            while self._pending is not None:
                waiting, self._pending = self._pending, None
                try:
                    ok = await self._probe()
                except Exception:  # any failure means "do not trust the cache"
                    logger.exception("cache coherence probe failed")
                    ok = False
                if not waiting.done():
                    waiting.set_result(ok)
        finally:
            self._runner = None
            if self._pending is not None and not self._pending.done():
                self._pending.set_result(False)
                self._pending = None

    async def close(self) -> None:
        runner = self._runner
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner


class ChangeTracker(abc.ABC):
    """Applies database changes to a cache; tells when the cache may be trusted."""

    def __init__(self, cache: MetadataCache) -> None:
        """Track changes into ``cache``."""
        self._cache = cache
        self._barrier = _Barrier(self._probe)

    @property
    @abc.abstractmethod
    def available(self) -> bool:
        """Whether changes are being tracked right now (else the cache is bypassed)."""

    async def sync(self) -> bool:
        """Apply every change committed before this call; ``False``: do not use the cache."""
        if not self.available:
            return False
        return await self._barrier.wait()

    @abc.abstractmethod
    async def _probe(self) -> bool:
        """One coherence round trip (see the module docstring)."""

    async def close(self) -> None:
        """Stop tracking; the cache must not be used afterwards."""
        await self._barrier.close()
        self._cache.flush()


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


async def open_tracker(store: MetaStore, cache: MetadataCache) -> ChangeTracker | None:
    """Start tracking changes of ``store`` into ``cache``.

    Returns:
        The tracker; ``None`` when the store cannot announce changes (memory,
        or a PostgreSQL database without migration 0003), in which case the
        caller must validate cached entries against the database itself.
    """
    if isinstance(store, PostgresMetaStore):
        try:
            has_trigger = await store.pool.fetchval(_HAS_TRIGGER)
        except CONNECTION_ERRORS as exc:
            logger.warning("cannot check for the change-notification trigger: %s", exc)
            has_trigger = False
        if not has_trigger:
            logger.warning(
                "tuf_files has no change-notification trigger (run `python -m notary_server "
                "migrate`); only validated caching is used"
            )
            return None
        tracker: PostgresChangeTracker | SqliteChangeTracker = PostgresChangeTracker(
            store.pool, cache
        )
        await tracker.start()
        return tracker
    if isinstance(store, SqliteMetaStore):
        sqlite_tracker = SqliteChangeTracker(store, cache)
        await sqlite_tracker.start()
        return sqlite_tracker
    return None
