"""Keeping the event loop free: large stored files are parsed in a thread; loop lag is measured.

The upload path validates files above :data:`IN_THREAD_BYTES` in a worker
thread (ADR 0018, addendum); the background passes parse stored files the same
way (ADR 0023), so a stored 26 MiB targets file no longer stalls every request
of the worker for seconds. :class:`LoopLagProbe` is a heartbeat that tells how
late the loop ran while a pass was working: the figure the maintenance passes
report.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

from notary_server.services.current import parse_stored

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType

    from notary_server.storage.base import StoredMeta
    from notary_tuf.signed import Metadata

__all__ = [
    "HEARTBEAT_SECONDS",
    "IN_THREAD_BYTES",
    "LoopLagProbe",
    "off_loop_if_large",
    "parse_off_loop",
]

_T = TypeVar("_T")

IN_THREAD_BYTES: Final = 256 * 1024
"""Files larger than this are parsed (or validated) in a worker thread, not on the loop.

Parsing a 2 MB targets file takes a few hundred milliseconds of CPU; in a thread
the interpreter switches back to the loop every few milliseconds. Smaller files
stay on the loop: a thread hop costs more than they do.
"""

HEARTBEAT_SECONDS: Final = 0.01
"""How often :class:`LoopLagProbe` wakes up to see how late it is."""


async def off_loop_if_large(size: int, func: Callable[..., _T], *args: Any) -> _T:
    """``func(*args)``: in a worker thread when it works on more than :data:`IN_THREAD_BYTES`."""
    if size > IN_THREAD_BYTES:
        return await asyncio.to_thread(func, *args)
    return func(*args)


async def parse_off_loop(role: str, row: StoredMeta) -> Metadata[Any]:
    """:func:`~notary_server.services.current.parse_stored`, in a thread for a large file.

    Raises:
        StorageError: the stored bytes are not valid metadata for ``role``.
    """
    return await off_loop_if_large(len(row.data), parse_stored, role, row)


class LoopLagProbe:
    """A heartbeat on the event loop, recording how late it woke up; use as ``async with``.

    Attributes:
        beats: how many times it woke up.
        max_lag: the largest delay past its due time, in seconds (0 when the
            loop was never busier than a heartbeat).
    """

    def __init__(self, interval: float = HEARTBEAT_SECONDS) -> None:
        """Prepare a probe that wakes every ``interval`` seconds."""
        self.interval = interval
        self.beats = 0
        self.max_lag = 0.0
        self._due = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _beat(self) -> None:
        while True:
            self._due = time.perf_counter() + self.interval
            await asyncio.sleep(self.interval)
            self.beats += 1
            self.max_lag = max(self.max_lag, time.perf_counter() - self._due)

    async def __aenter__(self) -> Self:
        """Start the heartbeat."""
        self._due = time.perf_counter() + self.interval
        self._task = asyncio.create_task(self._beat())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the heartbeat, counting a beat that is overdue (the loop never let it run)."""
        if self._task is not None:
            self.max_lag = max(self.max_lag, time.perf_counter() - self._due)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
