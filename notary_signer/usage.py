"""When keys last signed: the ``last_used`` column, written off the Sign path (ADR 0033).

Go's signer writes ``last_used`` in the Sign RPC, after every signature
(``activatingPrivateKey``). The column does two jobs:

* a key whose ``last_used`` is set is no longer *pending*: ``CreateKey`` in
  get-or-create mode never hands it out again. This must hold the moment a
  signature leaves the signer, so the first signature of a key that the store
  shows as pending is recorded before the RPC answers, as Go does;
* after that, it tells an operator when the key last signed. That write is
  the one the Sign path can do without: :class:`UsageRecorder` keeps the
  newest time of each key and writes it within :data:`FLUSH_SECONDS` (one
  ``UPDATE`` per key per interval however often it signs), and once more when
  the signer stops.

A failed write is logged and the signature stands, as in Go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from datetime import datetime

    from notary_signer.keystore.base import KeyStore

__all__ = ["FLUSH_SECONDS", "UsageRecorder"]

logger = logging.getLogger(__name__)

FLUSH_SECONDS: Final = 1.0
"""How long the store's ``last_used`` of an active key may lag its newest signature."""


class UsageRecorder:
    """Writes the newest signing time of each active key to the store, in batches."""

    def __init__(self, store: KeyStore, *, interval: float = FLUSH_SECONDS) -> None:
        """Record into ``store`` every ``interval`` seconds."""
        self._store = store
        self._interval = interval
        self._due: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def first_use(self, key_id: str, when: datetime) -> bool:
        """Write ``last_used`` now: the key was pending until this signature.

        Returns:
            Whether the store took the write (False: logged; the caller tries
            again on the key's next signature).
        """
        try:
            await self._store.mark_used(key_id, when)
        except Exception:
            logger.exception("key %s signed, but marking it active failed", key_id)
            return False
        return True

    def later_use(self, key_id: str, when: datetime) -> None:
        """Note a signature of a key the store shows as used; it is written within the interval."""
        self._due[key_id] = when
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="key-usage")

    @property
    def pending_writes(self) -> int:
        """How many keys have a signing time not yet written."""
        return len(self._due)

    async def flush(self) -> None:
        """Write every noted time now (a time noted during the write stays due)."""
        for key_id in list(self._due):
            when = self._due.get(key_id)
            if when is None:
                continue
            try:
                await self._store.mark_used(key_id, when)
            except Exception:
                logger.exception("recording when key %s last signed failed", key_id)
            if self._due.get(key_id) == when:
                del self._due[key_id]

    async def close(self) -> None:
        """Stop the periodic writes and write what is left."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _run(self) -> None:
        try:
            while self._due:
                await asyncio.sleep(self._interval)
                await self.flush()
        finally:
            if self._task is asyncio.current_task():
                self._task = None
