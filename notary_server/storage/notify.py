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

Each store opens its own tracker (:meth:`TracksChanges.open_change_tracker`;
:mod:`~notary_server.storage.notify_postgres`, :mod:`~notary_server.storage.notify_sqlite`).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from notary_server.cache import MetadataCache

__all__ = [
    "CHANNEL",
    "PROBE_TIMEOUT",
    "RETRY_DELAY",
    "ChangeTracker",
    "TracksChanges",
    "open_tracker",
]

logger = logging.getLogger(__name__)

CHANNEL: Final = "notary_tuf_files"
"""The channel migration 0003's triggers notify; the payload is a GUN, or ``''`` for all."""

PROBE_TIMEOUT: Final = 2.0
"""Seconds a coherence probe may take before the cache is bypassed."""

RETRY_DELAY: Final = 1.0
"""Seconds between attempts to re-open a lost ``LISTEN`` connection."""


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


@runtime_checkable
class TracksChanges(Protocol):
    """A store that can announce its committed changes to the metadata cache (ADR 0031)."""

    async def open_change_tracker(self, cache: MetadataCache) -> ChangeTracker | None:
        """Start applying this store's committed changes to ``cache`` (issue #8).

        Returns:
            The tracker, or None when the store cannot announce its changes
            (memory, or PostgreSQL without migration 0003); the caller then
            validates cached entries against the store itself.
        """
        ...


async def open_tracker(store: TracksChanges, cache: MetadataCache) -> ChangeTracker | None:
    """Start tracking changes of ``store`` into ``cache`` (its ``open_change_tracker``).

    Returns:
        The tracker; ``None`` when the store cannot announce changes (memory,
        or a PostgreSQL database without migration 0003), in which case the
        caller must validate cached entries against the database itself.
    """
    return await store.open_change_tracker(cache)
