"""What the console's pages show, read from the store and parsed with :mod:`notary_tuf`.

Read-only. Signed tags follow ``docker trust inspect``: a tag is signed when
``targets`` or ``targets/releases`` holds it; its signers are every role
holding the same name and digest, with those two shown as "Repo Admin" and
other delegations without their ``targets/`` prefix. A delegation's targets
count only within its paths (and its parents'), as the notary client reads
them. "Current" is what a consistent client sees (the timestamp, the snapshot
it names, the files that names), as in ``admin show``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from notary_server.services.current import get_current, parse_stored
from notary_server.services.inventory import (
    InventoryStore,
    certificate_end,
    root_certificate_ends,
    summarize,
)
from notary_server.storage import NotFoundError, StorageError
from notary_server.storage.base import MetaStore
from notary_server.storage.capabilities import AuditLog, BulkReads, Inventory
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from notary_server.console.session import Principal
    from notary_server.storage.base import AuditEvent, Change, StoredMeta
    from notary_tuf.models.targets import DelegatedRole, Targets

__all__ = [
    "RELEASED_SIGNER",
    "ConsoleStore",
    "Delegation",
    "Expiry",
    "RepoDetail",
    "RepoRow",
    "RootVersion",
    "SignedTag",
    "expiry",
    "page_rows",
    "repo_detail",
    "signed_tags",
    "visible_page",
]

logger = logging.getLogger(__name__)

RELEASED_SIGNER: Final = "Repo Admin"
_RELEASED_ROLES: Final = (TARGETS, "targets/releases")
MAX_ROLES: Final = 1000
"""Delegated roles walked at most per repository (a bound, as the client's own walk)."""
WEEK: Final = timedelta(days=7)
MONTH: Final = timedelta(days=30)


class ConsoleStore(MetaStore, BulkReads, Inventory, AuditLog, Protocol):
    """What the pages read: Go's reads, a page's files in bulk, the listings, the audit log."""


@dataclass(frozen=True, slots=True)
class Expiry:
    """A moment something expires and how close it is.

    Attributes:
        when: the moment (aware, UTC), None when unknown.
        css: ``expired``, ``week``, ``month``, ``ok`` or ``unknown`` (a class name).
        label: the same in words (colour is never the only signal).
    """

    when: datetime | None
    css: str
    label: str


def expiry(when: datetime | None, now: datetime) -> Expiry:
    """Classify ``when``: expired, under 7 days, under 30 days, later."""
    if when is None:
        return Expiry(None, "unknown", "unknown")
    if when <= now:
        return Expiry(when, "expired", "expired")
    if when - now < WEEK:
        return Expiry(when, "week", "under 7 days")
    if when - now < MONTH:
        return Expiry(when, "month", "under 30 days")
    return Expiry(when, "ok", "")


@dataclass(frozen=True, slots=True)
class SignedTag:
    """One row of ``docker trust inspect``'s ``SignedTags``."""

    tag: str
    digest: str
    signers: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Delegation:
    """One row of ``notary delegation list`` (its canonical key IDs), with certificate ends."""

    role: str
    paths: tuple[str, ...]
    keyids: tuple[str, ...]
    threshold: int
    certificates: tuple[tuple[str, Expiry], ...]
    expires: Expiry


@dataclass(frozen=True, slots=True, kw_only=True)
class RootVersion:
    """A stored root version."""

    version: int
    stored: datetime
    keyids: tuple[str, ...]
    expires: Expiry
    published_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoRow:
    """A row of the Repositories page."""

    gun: str
    tags: int
    published: datetime | None
    publisher: str
    roles: tuple[tuple[str, Expiry], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoDetail:
    """Everything the Repository page shows."""

    gun: str
    tags: tuple[SignedTag, ...]
    delegations: tuple[Delegation, ...]
    roles: tuple[tuple[str, Expiry], ...]
    roots: tuple[RootVersion, ...]
    root_certificates: tuple[tuple[str, Expiry], ...]
    changes: tuple[Change, ...]
    audit: tuple[AuditEvent, ...]


async def _current_targets(store: MetaStore, gun: str, role: str) -> Targets | None:
    try:
        parsed = parse_stored(role, await get_current(store, gun, role))
    except NotFoundError:
        return None
    signed: Targets = parsed.signed
    return signed


@dataclass(frozen=True, slots=True)
class _Walked:
    role: str
    targets: Targets
    chain: tuple[DelegatedRole, ...]


async def _walk_with(load: Callable[[str], Awaitable[Targets | None]]) -> list[_Walked]:
    """``targets`` and every delegated role with a current file, breadth first."""
    top = await load(TARGETS)
    if top is None:
        return []
    walked = [_Walked(TARGETS, top, ())]
    seen = {TARGETS}
    index = 0
    while index < len(walked) and len(seen) < MAX_ROLES:
        parent = walked[index]
        index += 1
        delegations = parent.targets.delegations
        for role in delegations.roles if delegations is not None else ():
            if role.name in seen:
                continue
            seen.add(role.name)
            found = await load(role.name)
            if found is not None:
                walked.append(_Walked(role.name, found, (*parent.chain, role)))
    return walked


async def _walk(store: MetaStore, gun: str) -> list[_Walked]:
    return await _walk_with(lambda role: _current_targets(store, gun, role))


def _signer_name(role: str) -> str:
    return RELEASED_SIGNER if role in _RELEASED_ROLES else role.removeprefix("targets/")


def _tags_of(walked: Sequence[_Walked]) -> list[SignedTag]:
    entries: list[tuple[str, str, str]] = []
    for item in walked:
        for name, meta in item.targets.targets.items():
            if all(d.allows_path(name) for d in item.chain):
                entries.append((name, meta.sha256_hex or "", item.role))
    released = {(name, digest) for name, digest, role in entries if role in _RELEASED_ROLES}
    signers: dict[tuple[str, str], set[str]] = {}
    for name, digest, role in entries:
        if (name, digest) in released:
            signers.setdefault((name, digest), set()).add(_signer_name(role))
    return [
        SignedTag(name, digest, tuple(sorted(names)))
        for (name, digest), names in sorted(signers.items())
    ]


async def signed_tags(store: MetaStore, gun: str) -> list[SignedTag]:
    """The repository's signed tags as ``docker trust inspect`` lists them.

    Raises:
        StorageError: the store failed or holds unparsable files.
    """
    return _tags_of(await _walk(store, gun))


def _delegations(walked: Sequence[_Walked], now: datetime) -> list[Delegation]:
    by_name = {item.role: item for item in walked}
    found: list[Delegation] = []
    for item in walked:
        delegations = item.targets.delegations
        if delegations is None:
            continue
        for role in delegations.roles:
            keys = [delegations.keys[keyid] for keyid in role.keyids if keyid in delegations.keys]
            certificates = tuple(
                (key.canonical_key_id, expiry(certificate_end(key), now))
                for key in keys
                if key.is_x509
            )
            own = by_name.get(role.name)
            found.append(
                Delegation(
                    role=role.name,
                    paths=role.paths,
                    keyids=tuple(key.canonical_key_id for key in keys),
                    threshold=role.threshold,
                    certificates=certificates,
                    expires=expiry(own.targets.expires.to_datetime() if own else None, now),
                )
            )
    return sorted(found, key=lambda d: d.role)


def _publisher_at(changes: Sequence[Change], moment: datetime) -> str:
    """The actor of the first changefeed update at or after ``moment`` (the same write)."""
    for change in changes:
        if change.category == "update" and change.created_at >= moment - timedelta(seconds=1):
            return change.actor or ""
    return ""


async def _roots(
    store: InventoryStore, gun: str, changes: Sequence[Change], now: datetime
) -> list[RootVersion]:
    versions = []
    for info in await store.list_files(gun):
        if info.role != ROOT:
            continue
        try:
            root = parse_stored(ROOT, await store.get_version(gun, ROOT, info.version)).signed
        except (NotFoundError, StorageError) as e:
            logger.warning("%s: root v%d unreadable: %s", gun, info.version, e)
            continue
        versions.append(
            RootVersion(
                version=info.version,
                stored=info.created,
                keyids=tuple(sorted(root.role_keys(ROOT))),
                expires=expiry(root.expires.to_datetime(), now),
                published_by=_publisher_at(changes, info.created),
            )
        )
    return sorted(versions, key=lambda v: v.version, reverse=True)


async def _root_certificates(store: MetaStore, gun: str, now: datetime) -> list[tuple[str, Expiry]]:
    try:
        root = parse_stored(ROOT, await get_current(store, gun, ROOT)).signed
    except NotFoundError:
        return []
    return [(keyid, expiry(end, now)) for keyid, end in sorted(root_certificate_ends(root))]


async def _roles(store: InventoryStore, gun: str, now: datetime) -> tuple[tuple[str, Expiry], ...]:
    summary = await summarize(store, gun)
    return tuple((role.role, expiry(role.expires, now)) for role in summary.roles)


_ROLE_ORDER: Final = {ROOT: 0, TARGETS: 1, SNAPSHOT: 3, TIMESTAMP: 4}


def _parsed(role: str, row: StoredMeta | None) -> Any:
    """The parsed ``signed`` part of a stored file; None when absent or unparsable."""
    if row is None:
        return None
    try:
        return parse_stored(role, row).signed
    except StorageError as e:
        logger.warning("a stored %s does not parse: %s", role, e)
        return None


async def _current_files(store: BulkReads, guns: Sequence[str]) -> dict[tuple[str, str], Any]:
    """Every current file of ``guns`` as a consistent reader sees it, parsed, in a few queries.

    One query for the timestamps, one for the snapshots they name, one per role
    name for the files those name (root from its highest version when the
    snapshot does not name it), instead of several per repository.
    """
    files: dict[tuple[str, str], Any] = {}
    for gun, row in (await store.get_current_many(TIMESTAMP, guns)).items():
        files[(gun, TIMESTAMP)] = _parsed(TIMESTAMP, row)
    wanted = [
        (gun, entry.sha256_hex)
        for (gun, _), timestamp in files.items()
        if timestamp is not None
        and (entry := timestamp.meta.get(SNAPSHOT)) is not None
        and entry.sha256_hex
    ]
    for (gun, _), row in (await store.get_checksum_many(SNAPSHOT, wanted)).items():
        files[(gun, SNAPSHOT)] = _parsed(SNAPSHOT, row)
    by_role: dict[str, list[tuple[str, str]]] = {}
    for gun in guns:
        snapshot = files.get((gun, SNAPSHOT))
        for role, entry in snapshot.meta.items() if snapshot is not None else ():
            if entry.sha256_hex:
                by_role.setdefault(role, []).append((gun, entry.sha256_hex))
    for role, pairs in sorted(by_role.items()):
        for (gun, _), row in (await store.get_checksum_many(role, pairs)).items():
            files[(gun, role)] = _parsed(role, row)
    unnamed = [gun for gun in guns if (gun, ROOT) not in files and (gun, TIMESTAMP) in files]
    for gun, row in (await store.get_current_many(ROOT, unnamed)).items():
        files[(gun, ROOT)] = _parsed(ROOT, row)
    return files


async def page_rows(store: ConsoleStore, guns: Sequence[str], now: datetime) -> list[RepoRow]:
    """The Repositories page's rows for ``guns``, read in batches.

    Raises:
        StorageError: the store failed.
    """
    files = await _current_files(store, guns)
    rows = []
    for gun in guns:
        roles = sorted(
            (role for g, role in files if g == gun),
            key=lambda role: (_ROLE_ORDER.get(role, 2), role),
        )

        async def load(role: str, gun: str = gun) -> Targets | None:
            found: Targets | None = files.get((gun, role))
            return found

        newest = await store.get_changes(-1, -1, gun)
        change = newest[-1] if newest else None
        rows.append(
            RepoRow(
                gun=gun,
                tags=len(_tags_of(await _walk_with(load))),
                published=change.created_at if change else None,
                publisher=(change.actor or "") if change else "",
                roles=tuple(
                    (
                        role,
                        expiry(
                            files[(gun, role)].expires.to_datetime()
                            if files[(gun, role)] is not None
                            else None,
                            now,
                        ),
                    )
                    for role in roles
                ),
            )
        )
    return rows


async def repo_detail(store: ConsoleStore, gun: str, now: datetime) -> RepoDetail | None:
    """The Repository page; None when the repository has no metadata.

    Raises:
        StorageError: the store failed or holds unparsable files.
    """
    roles = await _roles(store, gun, now)
    if not roles:
        return None
    walked = await _walk(store, gun)
    changes = await store.get_changes(-1, -50, gun)
    return RepoDetail(
        gun=gun,
        tags=tuple(_tags_of(walked)),
        delegations=tuple(_delegations(walked, now)),
        roles=roles,
        roots=tuple(await _roots(store, gun, changes, now)),
        root_certificates=tuple(await _root_certificates(store, gun, now)),
        changes=tuple(reversed(changes)),
        audit=tuple(reversed(await store.get_audit(gun, limit=50))),
    )


async def visible_page(
    store: ConsoleStore,
    principal: Principal,
    *,
    prefix: str,
    after: str | None,
    descending: bool,
    limit: int,
) -> tuple[list[str], bool]:
    """One keyset page of the repositories ``principal`` may see, and whether more follow.

    A user limited to some repositories pages through those alone (the ones
    with metadata), so neither the rows nor their number say anything about
    the others.
    """
    if principal.all_guns:
        guns = await store.list_guns_page(
            prefix=prefix, after=after, limit=limit + 1, descending=descending
        )
    else:
        candidates = sorted((g for g in principal.pull if g.startswith(prefix)), reverse=descending)
        if after is not None:
            candidates = [g for g in candidates if (g < after if descending else g > after)]
        existing = await store.get_current_many(ROOT, candidates)
        guns = [g for g in candidates if g in existing][: limit + 1]
    return guns[:limit], len(guns) > limit


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def as_text(value: Any) -> str:
    """A value for a template, never None."""
    return "" if value is None else str(value)
