"""Loading current chains into the metadata cache before serving (beyond Go; issue #8).

Without it, a server that has just started answers every repository's first
GET from the database: with many repositories read evenly, most requests of
the first minutes are misses. :func:`warm_chains` reads the current
timestamp and the snapshot it names for many GUNs at a time (two queries per
batch on PostgreSQL), most recently updated first, and stores the chains as
an ordinary fill would: with the epoch read before the batch, so a change
announced meanwhile drops that GUN's chain (see :mod:`notary_server.cache`).

It stops when the cache budget is reached, when ``max_seconds`` have passed,
or when every GUN is loaded. Files that do not parse are skipped: the request
that needs them reports the fault as before. Only a reader with a working
change tracker is warmed; without one, a chain is validated against the
database on every request anyway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from notary_server.services.current import build_chain, named_checksum, parse_stored
from notary_server.storage import NotFoundError, StorageError
from notary_tuf.rolenames import SNAPSHOT, TIMESTAMP

if TYPE_CHECKING:
    from collections.abc import Sequence

    from notary_server.cache import Chain
    from notary_server.services.current import MetadataReader
    from notary_server.storage.base import StoredMeta
    from notary_tuf.models import Timestamp
    from notary_tuf.signed import Metadata

__all__ = ["BATCH", "WarmResult", "warm_chains"]

logger = logging.getLogger(__name__)

BATCH: Final = 500
"""GUNs read per round trip; also how long the event loop is held between yields."""


@dataclass(frozen=True, slots=True)
class WarmResult:
    """What a warm-up did.

    Attributes:
        chains: chains stored in the cache.
        guns: GUNs with a timestamp that the store listed.
        seconds: how long it took.
        stopped_by: why it ended before every GUN was read: ``"budget"``,
            ``"time"``, ``"untracked"`` (no working change tracker), or ``""``.
    """

    chains: int
    guns: int
    seconds: float
    stopped_by: str = ""


async def warm_chains(
    reader: MetadataReader, *, max_seconds: float, batch: int = BATCH
) -> WarmResult:
    """Fill ``reader``'s cache with current chains, most recently updated GUNs first.

    Raises:
        StorageError: the store failed.
    """
    started = time.monotonic()
    if reader.tracker is None or not reader.tracker.available:
        return WarmResult(chains=0, guns=0, seconds=0.0, stopped_by="untracked")
    deadline = started + max_seconds
    guns = await reader.store.guns_recent_first()
    stored = 0
    stopped_by = ""
    for start in range(0, len(guns), batch):
        if time.monotonic() >= deadline:
            stopped_by = "time"
            break
        if not reader.can_fill:  # the tracker lost its connection meanwhile
            stopped_by = "untracked"
            break
        epoch = reader.cache.epoch  # before the reads, as any fill
        chains = await _read_chains(reader, guns[start : start + batch])
        fitting = _fitting(chains, reader.cache.free_bytes)
        stored += reader.cache.put_chains(fitting, epoch)
        if len(fitting) < len(chains):
            stopped_by = "budget"
            break
        await asyncio.sleep(0)  # let the tracker's notifications in
    result = WarmResult(
        chains=stored, guns=len(guns), seconds=time.monotonic() - started, stopped_by=stopped_by
    )
    logger.info(
        "metadata cache warmed: %d of %d repositories in %.1f s%s",
        result.chains,
        result.guns,
        result.seconds,
        f" (stopped by {stopped_by})" if stopped_by else "",
    )
    return result


async def _read_chains(reader: MetadataReader, guns: Sequence[str]) -> dict[str, Chain]:
    store = reader.store
    timestamps: dict[str, tuple[StoredMeta, Metadata[Timestamp], str]] = {}
    for gun, row in (await store.get_current_many(TIMESTAMP, guns)).items():
        try:
            timestamp: Metadata[Timestamp] = parse_stored(TIMESTAMP, row)
            timestamps[gun] = (row, timestamp, named_checksum(timestamp, SNAPSHOT))
        except (StorageError, NotFoundError):
            continue  # reported by the request that needs it
    wanted = [(gun, checksum) for gun, (_, _, checksum) in timestamps.items()]
    snapshots = await store.get_checksum_many(SNAPSHOT, wanted)
    chains = {}
    for gun, (row, timestamp, checksum) in timestamps.items():
        snapshot_row = snapshots.get((gun, checksum))
        if snapshot_row is None:
            continue
        try:
            chains[gun] = build_chain(row, timestamp, snapshot_row)
        except StorageError:
            continue
    return chains


def _fitting(chains: dict[str, Chain], free_bytes: int) -> dict[str, Chain]:
    """The leading chains that fit in ``free_bytes`` (a warm-up must not evict itself)."""
    fitting = {}
    for gun, chain in chains.items():
        free_bytes -= chain.size
        if free_bytes < 0:
            break
        fitting[gun] = chain
    return fitting
