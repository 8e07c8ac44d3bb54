"""Expiry dates of stored files, remembered by checksum, for the background passes (ADR 0023).

A stored file never changes, so its checksum fixes its ``expires`` (and, for a
root, its certificates' end dates, and for a snapshot the checksums it names).
The re-sign and expiry passes learn each current file's checksum from the
timestamp and snapshot that name it; with :class:`FileExpiries` a file is
fetched and parsed once, when it first becomes current, instead of at every
pass. A pass then reads one small timestamp per repository, and a stored
26 MiB targets file is parsed once (in a thread, :mod:`.offloop`) rather than
on the event loop every few minutes.

:func:`scan_expiring` is the incremental form of
:func:`notary_server.services.inventory.scan_expiring` used by the server's
maintenance loop; it yields to the event loop between repositories.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from notary_server.services.current import named_checksum
from notary_server.services.inventory import ExpiringItem, root_certificate_ends
from notary_server.services.offloop import off_loop_if_large, parse_off_loop
from notary_server.storage import StorageError
from notary_server.storage._common import sha256_hex
from notary_server.storage.base import MetaStore
from notary_server.storage.capabilities import BulkReads, Inventory
from notary_tuf.canonical import parse_json
from notary_tuf.errors import NotaryTufError
from notary_tuf.gotime import GoTime
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP, is_delegation

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

    from notary_server.storage.base import StoredMeta
    from notary_tuf.signed import Metadata

__all__ = ["BATCH_GUNS", "FileExpiries", "FileFacts", "ScanStore", "scan_expiring"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_FILES: Final = 100_000
"""Files whose facts :class:`FileExpiries` keeps: about 450 bytes each, 45 MB when full.

Each worker runs the passes and keeps its own. Three current files per
repository (root, snapshot, targets) plus delegations: enough for about 30,000
repositories; in a larger store the rest is parsed at each pass, as before.
"""

BATCH_GUNS: Final = 100
"""Repositories whose timestamps a pass reads in one store call."""


class ScanStore(MetaStore, BulkReads, Inventory, Protocol):
    """What a pass over every GUN needs: the GUNs, their timestamps in batches, Go's reads.

    The re-sign pass (:mod:`notary_server.services.resign`) also writes through it.
    """


@dataclass(frozen=True, slots=True, kw_only=True)
class FileFacts:
    """What the passes need from one stored file.

    Attributes:
        expires: its ``expires``.
        names: a snapshot's role → SHA-256 hex of the file it names.
        certificates: a root's X.509 root keys: key ID → end of validity.
    """

    expires: datetime
    names: tuple[tuple[str, str], ...] = ()
    certificates: tuple[tuple[str, datetime], ...] = ()


def _facts_of(role: str, parsed: Metadata[Any]) -> FileFacts:
    signed = parsed.signed
    names: tuple[tuple[str, str], ...] = ()
    if role == SNAPSHOT:
        names = tuple(
            (name, entry.sha256_hex) for name, entry in signed.meta.items() if entry.sha256_hex
        )
    return FileFacts(
        expires=signed.expires.to_datetime(),
        names=names,
        certificates=tuple(root_certificate_ends(signed)) if role == ROOT else (),
    )


def _targets_facts(data: bytes) -> FileFacts:
    """The expiry of a targets or delegation file, from its decoded JSON alone.

    These files can be tens of MiB; decoding is a quarter of a full parse (which
    also builds every target entry), and holds the interpreter for that much
    less while it runs in a thread.

    Raises:
        StorageError: the file is not JSON or has no valid ``signed.expires``.
    """
    try:
        expires = GoTime.parse(parse_json(data)["signed"]["expires"])
    except (NotaryTufError, KeyError, TypeError, AttributeError) as e:
        raise StorageError(f"stored file has no readable expiry: {e}") from e
    return FileFacts(expires=expires.to_datetime())


class FileExpiries:
    """The facts of stored files by role and SHA-256, each file fetched and parsed once.

    A file's facts depend on its bytes alone, so identical files in several
    repositories share one entry. Bounded: once ``max_files`` entries are held,
    new files are parsed but not remembered, and :meth:`sweep` (after each
    pass) drops the entries no pass used since the previous sweep, such as the
    files a publish replaced. Entries never evict each other within a pass, so
    a store with more current files than ``max_files`` still has that many hits
    per pass, rather than none (a least-recently-used order scanned in a cycle).

    Attributes:
        max_files: how many files' facts it keeps at most.
        parsed: how many files it fetched and parsed so far.
    """

    def __init__(self, max_files: int = DEFAULT_MAX_FILES) -> None:
        """Remember the facts of at most ``max_files`` files."""
        self.max_files = max_files
        self.parsed = 0
        self._generation = 0
        self._facts: dict[tuple[str, str], tuple[FileFacts, int]] = {}

    def __len__(self) -> int:
        """How many files' facts are remembered."""
        return len(self._facts)

    def sweep(self) -> int:
        """Forget the files not used since the previous sweep; return how many."""
        stale = [key for key, (_, used) in self._facts.items() if used < self._generation]
        for key in stale:
            del self._facts[key]
        self._generation += 1
        return len(stale)

    async def facts(self, store: MetaStore, gun: str, role: str, checksum: str) -> FileFacts:
        """The facts of the ``role`` file of ``gun`` whose SHA-256 is ``checksum``.

        Raises:
            NotFoundError: no such file.
            StorageError: the store failed, or the file does not parse.
        """
        key = (role, checksum)
        known = self._facts.get(key)
        if known is not None:
            self._facts[key] = (known[0], self._generation)
            return known[0]
        row = await store.get_checksum(gun, role, checksum)
        if role == TARGETS or is_delegation(role):
            facts = await off_loop_if_large(len(row.data), _targets_facts, row.data)
        else:
            facts = _facts_of(role, await parse_off_loop(role, row))
        self.parsed += 1
        if len(self._facts) < self.max_files:
            self._facts[key] = (facts, self._generation)
        return facts

    async def snapshot_of(self, store: MetaStore, gun: str, timestamp_row: StoredMeta) -> FileFacts:
        """The facts of the snapshot a stored timestamp names.

        The timestamp itself, small and new at every publish, is parsed each time.

        Raises:
            NotFoundError: the timestamp names no snapshot, or it is not stored.
            StorageError: see :meth:`facts`.
        """
        timestamp = await parse_off_loop(TIMESTAMP, timestamp_row)
        return await self.facts(store, gun, SNAPSHOT, named_checksum(timestamp, SNAPSHOT))


async def _expiring_in(
    store: MetaStore,
    expiries: FileExpiries,
    gun: str,
    timestamp_row: StoredMeta,
    deadline: datetime,
) -> list[ExpiringItem]:
    """The GUN's root, targets, delegations and root certificates expiring by ``deadline``."""
    snapshot = await expiries.snapshot_of(store, gun, timestamp_row)
    named = dict(snapshot.names)
    if ROOT not in named:  # a snapshot that does not name root: the highest stored one
        named[ROOT] = sha256_hex((await store.get_current(gun, ROOT)).data)
    items = []
    roles = [ROOT, *sorted(r for r in named if r == TARGETS or is_delegation(r))]
    for role in roles:
        try:
            facts = await expiries.facts(store, gun, role, named[role])
        except StorageError as e:  # as the full scan: that role is left out
            logger.debug("%s %s: no current version: %s", gun, role, e)
            continue
        if facts.expires <= deadline:
            items.append(ExpiringItem(gun=gun, kind=role, name=role, expires=facts.expires))
        if role == ROOT:
            items.extend(
                ExpiringItem(gun=gun, kind="root-certificate", name=keyid, expires=not_after)
                for keyid, not_after in facts.certificates
                if not_after <= deadline
            )
    return items


async def scan_expiring(
    store: ScanStore,
    expiries: FileExpiries,
    *,
    now: datetime,
    within: timedelta,
    guns: Sequence[str] | None = None,
) -> list[ExpiringItem]:
    """What expires by ``now + within`` in every GUN, soonest first; incremental.

    Same result as :func:`notary_server.services.inventory.scan_expiring`. GUNs
    are read :data:`BATCH_GUNS` timestamps at a time, with a yield to the event
    loop after each GUN. A GUN whose files cannot be read is logged and skipped.

    Raises:
        StorageError: the GUNs cannot be listed.
    """
    deadline = now + within
    names = list(guns) if guns is not None else await store.list_guns()
    found: list[ExpiringItem] = []
    for start in range(0, len(names), BATCH_GUNS):
        batch = names[start : start + BATCH_GUNS]
        timestamps = await store.get_current_many(TIMESTAMP, batch)
        for gun in batch:
            row = timestamps.get(gun)
            if row is not None:
                try:
                    found.extend(await _expiring_in(store, expiries, gun, row, deadline))
                except (StorageError, NotaryTufError) as e:
                    logger.warning("%s: cannot check expiry: %s", gun, e)
            await asyncio.sleep(0)
    found.sort(key=lambda item: (item.expires, item.gun, item.name))
    return found
