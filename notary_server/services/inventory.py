"""What a store holds, for operators: repositories, roles, versions, sizes, expiries.

Read-only; used by ``admin list``/``show``/``expiring`` and the expiry gauges.
"Current" follows the consistent reader's view (:func:`get_current`): the
highest timestamp, the snapshot it names, and the files that snapshot names;
a role the snapshot does not name is shown at its highest stored version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from notary_server.services.current import get_current, parse_stored
from notary_server.storage import NotFoundError, StorageError
from notary_server.storage.base import MetaStore
from notary_server.storage.capabilities import Inventory
from notary_tuf.certs import load_certificate_bundle
from notary_tuf.errors import NotaryTufError
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP, is_delegation

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

    from notary_server.storage.base import FileInfo
    from notary_tuf.keys import PublicKey
    from notary_tuf.models import Root

__all__ = [
    "ExpiringItem",
    "InventoryStore",
    "RepoSummary",
    "RoleSummary",
    "expiring_items",
    "scan_expiring",
    "summarize",
]

logger = logging.getLogger(__name__)


class InventoryStore(MetaStore, Inventory, Protocol):
    """What a report on a store's content reads: its listings and Go's reads."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleSummary:
    """One role of a repository.

    Attributes:
        role: the role name.
        versions: how many versions are stored.
        current: the current version (see the module docstring).
        latest: the highest stored version.
        size: bytes stored over all versions.
        expires: when the current version expires (None if it does not parse).
    """

    role: str
    versions: int
    current: int
    latest: int
    size: int
    expires: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoSummary:
    """A repository: its roles and totals.

    Attributes:
        gun: the repository.
        roles: one summary per stored role, root first, timestamp last.
        files: how many files are stored.
        size: bytes stored.
    """

    gun: str
    roles: tuple[RoleSummary, ...]
    files: int
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpiringItem:
    """Something that expires within the window asked about.

    Attributes:
        gun: the repository.
        kind: ``root``, ``targets``, a delegation name, or ``root-certificate``.
        name: the role, or for a certificate the root key ID it is listed under.
        expires: when it expires (aware, UTC); may lie in the past.
    """

    gun: str
    kind: str
    name: str
    expires: datetime


_ORDER = {ROOT: 0, TARGETS: 1, SNAPSHOT: 3, TIMESTAMP: 4}


def _role_order(role: str) -> tuple[int, str]:
    return (_ORDER.get(role, 2), role)


async def _current_expiry(store: MetaStore, gun: str, role: str) -> tuple[int, datetime] | None:
    try:
        try:
            row = await get_current(store, gun, role)
        except NotFoundError:
            row = await store.get_current(gun, role)
        parsed = parse_stored(role, row)
    except (NotFoundError, StorageError) as e:
        logger.debug("%s %s: no current version: %s", gun, role, e)
        return None
    return parsed.version, parsed.signed.expires.to_datetime()


async def summarize(store: InventoryStore, gun: str) -> RepoSummary:
    """Summarise one repository (no roles when it does not exist).

    Raises:
        StorageError: the store failed.
    """
    files = await store.list_files(gun)
    by_role: dict[str, list[FileInfo]] = {}
    for info in files:
        by_role.setdefault(info.role, []).append(info)
    roles = []
    for role in sorted(by_role, key=_role_order):
        infos = by_role[role]
        latest = max(info.version for info in infos)
        found = await _current_expiry(store, gun, role)
        roles.append(
            RoleSummary(
                role=role,
                versions=len(infos),
                current=found[0] if found else latest,
                latest=latest,
                size=sum(info.size for info in infos),
                expires=found[1] if found else None,
            )
        )
    return RepoSummary(
        gun=gun, roles=tuple(roles), files=len(files), size=sum(info.size for info in files)
    )


def certificate_end(key: PublicKey) -> datetime | None:
    """When the leaf certificate of an x509 key stops being valid (None: not a certificate)."""
    if not key.is_x509:
        return None
    try:
        return load_certificate_bundle(key.public)[0].not_valid_after_utc
    except NotaryTufError:
        return None


def root_certificate_ends(root: Root) -> list[tuple[str, datetime]]:
    """(key ID, end of validity) of each root-role key of ``root`` that is a certificate."""
    return [
        (keyid, end)
        for keyid, key in root.role_keys(ROOT).items()
        if (end := certificate_end(key)) is not None
    ]


def _certificate_items(gun: str, root: Root, deadline: datetime) -> list[ExpiringItem]:
    return [
        ExpiringItem(gun=gun, kind="root-certificate", name=keyid, expires=end)
        for keyid, end in root_certificate_ends(root)
        if end <= deadline
    ]


async def expiring_items(
    store: MetaStore, gun: str, *, now: datetime, within: timedelta
) -> list[ExpiringItem]:
    """List the GUN's root, targets, delegations and root certificates expiring by ``now + within``.

    Timestamps and server-managed snapshots are left out: the server re-signs them.

    Raises:
        StorageError: the store failed.
    """
    deadline = now + within
    items: list[ExpiringItem] = []
    try:
        root = parse_stored(ROOT, await get_current(store, gun, ROOT))
        snapshot = parse_stored(SNAPSHOT, await get_current(store, gun, SNAPSHOT))
    except NotFoundError:
        return []
    roles = [ROOT, *sorted(r for r in snapshot.signed.meta if r == TARGETS or is_delegation(r))]
    for role in roles:
        found = await _current_expiry(store, gun, role)
        if found is not None and found[1] <= deadline:
            items.append(ExpiringItem(gun=gun, kind=role, name=role, expires=found[1]))
    items.extend(_certificate_items(gun, root.signed, deadline))
    return items


async def scan_expiring(
    store: InventoryStore, *, now: datetime, within: timedelta, guns: Sequence[str] | None = None
) -> list[ExpiringItem]:
    """Run :func:`expiring_items` over ``guns`` (default: every GUN), soonest first.

    A GUN whose files cannot be read is logged and skipped.

    Raises:
        StorageError: the GUNs cannot be listed.
    """
    found: list[ExpiringItem] = []
    for gun in guns if guns is not None else await store.list_guns():
        try:
            found.extend(await expiring_items(store, gun, now=now, within=within))
        except (StorageError, NotaryTufError) as e:
            logger.warning("%s: cannot check expiry: %s", gun, e)
    found.sort(key=lambda item: (item.expires, item.gun, item.name))
    return found
