"""Importing a repository from another Notary v1 server (``admin import``).

The way off a notary server that is shutting down: every root version, the
current targets, delegations (any depth), snapshot and timestamp are fetched
over the public API, verified, and stored here in one transaction.

Verification on the way:

* root version 1 is signed by its own root keys, and each later version by
  the threshold of the previous version's root keys and of its own
  (the chain of roots a client walks);
* the newest root, targets and delegations pass the same validation as an
  upload (:func:`notary_tuf.validation.validate_update`): signatures,
  certificates, expiry;
* the snapshot is signed by the root's snapshot keys and records the hash of
  every file imported; the timestamp is signed by the root's timestamp keys and
  records the snapshot's hash. Either may have expired (a source nobody looks
  after): that is a warning, not a refusal, because the owner's hand-over makes
  this server sign fresh ones (ADR 0022).

Whoever signed the snapshot (the owner, or the source server) is fine: the
files are stored exactly as fetched. The timestamp stays signed by the source
server's key until the owner's hand-over (``python -m notary_server.handover``).

Re-running is harmless (:func:`plan_import`): a repository already imported
and unchanged is left alone, one whose source moved on gets the newer
versions, one already handed over here is not touched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from notary_tuf.errors import NotaryTufError, ValidationError
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Metadata
from notary_tuf.validation import MetaUpdate, validate_update
from notary_tuf.verify import verify_signatures

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping
    from datetime import datetime

    from notary_tuf.models import Root, Snapshot, Targets, Timestamp

__all__ = [
    "FetchedRepository",
    "ImportPlan",
    "ImportState",
    "RepositoryImportError",
    "StoredRole",
    "VerifiedRepository",
    "describe",
    "fetch_repository",
    "plan_import",
    "verify_repository",
]

logger = logging.getLogger(__name__)

MAX_DELEGATIONS: Final = 10_000


class RepositoryImportError(Exception):
    """The repository cannot be imported (unreachable, missing or failing verification)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchedRepository:
    """A repository's files as fetched, before verification.

    Attributes:
        gun: the repository.
        roots: every root version the source still serves, by version.
        files: the current targets, delegations and snapshot, by role.
        timestamp: the current timestamp.
        missing_roots: root versions older than the newest the source did not serve.
    """

    gun: str
    roots: dict[int, bytes]
    files: dict[str, bytes]
    timestamp: bytes
    missing_roots: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedRepository:
    """What to store, in order, and what the operator should know about it."""

    updates: list[MetaUpdate]
    warnings: list[str] = field(default_factory=list)


def _role_path(gun: str, name: str) -> str:
    return f"/v2/{quote(gun)}/_trust/tuf/{quote(name)}.json"


async def _require(fetch: Callable[[str], Awaitable[bytes | None]], path: str) -> bytes:
    data = await fetch(path)
    if data is None:
        raise RepositoryImportError(f"{path}: not found on the source server")
    return data


async def _fetch_roots(
    fetch: Callable[[str], Awaitable[bytes | None]], gun: str
) -> tuple[dict[int, bytes], list[int]]:
    """Every root version the source serves, and the versions missing inside the chain."""
    current: Metadata[Root] = Metadata.from_bytes(
        ROOT, await _require(fetch, _role_path(gun, ROOT))
    )
    roots: dict[int, bytes] = {}
    missing = []
    for version in range(1, current.version):
        data = await fetch(_role_path(gun, f"{version}.{ROOT}"))
        if data is not None:
            roots[version] = data
        elif roots:  # a gap; before the first served version none was published
            missing.append(version)
    roots[current.version] = await _require(fetch, _role_path(gun, f"{current.version}.{ROOT}"))
    return roots, missing


async def _fetch_targets_tree(
    fetch: Callable[[str], Awaitable[bytes | None]], gun: str
) -> dict[str, bytes]:
    """``targets`` and every published delegation below it, breadth-first, to any depth.

    A delegation that is declared but was never published is skipped, as a client would.
    """
    files: dict[str, bytes] = {}
    pending = [TARGETS]
    while pending:
        role = pending.pop(0)
        if role in files:
            continue
        data = await fetch(_role_path(gun, role))
        if data is None:
            if role == TARGETS:
                raise RepositoryImportError(f"{gun}: the source has no targets")
            continue
        files[role] = data
        targets: Metadata[Targets] = Metadata.from_bytes(role, data)
        if targets.signed.delegations is not None:
            pending.extend(d.name for d in targets.signed.delegations.roles)
        if len(files) > MAX_DELEGATIONS:
            raise RepositoryImportError(f"{gun}: more than {MAX_DELEGATIONS} delegations")
    return files


async def fetch_repository(
    fetch: Callable[[str], Awaitable[bytes | None]], gun: str
) -> FetchedRepository:
    """Download a repository through ``fetch`` (path → body, None on 404).

    Raises:
        RepositoryImportError: a required file is missing or does not parse.
    """
    try:
        timestamp = await _require(fetch, _role_path(gun, TIMESTAMP))
        roots, missing = await _fetch_roots(fetch, gun)
        files = {SNAPSHOT: await _require(fetch, _role_path(gun, SNAPSHOT))}
        files.update(await _fetch_targets_tree(fetch, gun))
    except NotaryTufError as e:
        raise RepositoryImportError(f"{gun}: the source serves invalid metadata: {e}") from e
    return FetchedRepository(
        gun=gun, roots=roots, files=files, timestamp=timestamp, missing_roots=tuple(missing)
    )


def _check_root_chain(gun: str, roots: dict[int, bytes]) -> None:
    previous: Metadata[Root] | None = None
    for version in sorted(roots):
        root: Metadata[Root] = Metadata.from_bytes(ROOT, roots[version])
        if root.version != version:
            raise RepositoryImportError(f"{gun}: {version}.root.json holds version {root.version}")
        signers = [root] if previous is None else [previous, root]
        for trusted in signers:
            verify_signatures(
                root.envelope,
                trusted.signed.role_keys(ROOT),
                trusted.signed.roles[ROOT].threshold,
                role=f"root v{version}",
            )
        previous = root


def _expiry_warning(role: str, expires: datetime, now: datetime) -> list[str]:
    if expires > now:
        return []
    when = f"{expires:%Y-%m-%d %H:%MZ}"
    return [f"the {role} expired at {when}; imported anyway: clients refuse it until the hand-over"]


def verify_repository(fetched: FetchedRepository, *, now: datetime) -> VerifiedRepository:
    """Verify a fetched repository and return the files to store, in order.

    Raises:
        RepositoryImportError: any check fails (the message says which).
    """
    gun = fetched.gun
    try:
        _check_root_chain(gun, fetched.roots)
        newest = max(fetched.roots)
        uploads = {ROOT: fetched.roots[newest]}
        uploads.update((role, data) for role, data in fetched.files.items() if role != SNAPSHOT)
        # The newest root is checked as an update of the one before it, as Go
        # checked it when it was published (a first root may be v1 or v2).
        older = [v for v in fetched.roots if v < newest]
        current = {ROOT: fetched.roots[max(older)]} if older else {}
        validated = validate_update(gun=gun, current=current, uploads=uploads, now=now)
        root = validated.root.signed
        snapshot: Metadata[Snapshot] = Metadata.from_bytes(SNAPSHOT, fetched.files[SNAPSHOT])
        verify_signatures(
            snapshot.envelope,
            root.role_keys(SNAPSHOT),
            root.roles[SNAPSHOT].threshold,
            role=SNAPSHOT,
        )
        for role, data in uploads.items():
            entry = snapshot.signed.meta.get(role)
            if entry is None:
                raise RepositoryImportError(f"{gun}: the snapshot does not record {role}")
            entry.check(data, role)
        timestamp: Metadata[Timestamp] = Metadata.from_bytes(TIMESTAMP, fetched.timestamp)
        verify_signatures(
            timestamp.envelope,
            root.role_keys(TIMESTAMP),
            root.roles[TIMESTAMP].threshold,
            role=TIMESTAMP,
        )
        timestamp.signed.snapshot_meta.check(fetched.files[SNAPSHOT], SNAPSHOT)
    except (NotaryTufError, ValidationError) as e:
        raise RepositoryImportError(f"{gun}: verification failed: {e}") from e
    warnings = [
        *_expiry_warning(SNAPSHOT, snapshot.signed.expires.to_datetime(), now),
        *_expiry_warning(TIMESTAMP, timestamp.signed.expires.to_datetime(), now),
    ]
    if fetched.missing_roots:
        listed = ", ".join(f"v{v}" for v in fetched.missing_roots)
        warnings.append(
            f"the source no longer serves root {listed}; clients that trust an older root "
            "may need those versions to follow the rotation"
        )
    older_roots = [
        MetaUpdate(role=ROOT, version=v, data=fetched.roots[v]) for v in sorted(fetched.roots)[:-1]
    ]
    ordered = [*older_roots, *validated.updates]
    ordered.append(
        MetaUpdate(role=SNAPSHOT, version=snapshot.version, data=fetched.files[SNAPSHOT])
    )
    ordered.append(MetaUpdate(role=TIMESTAMP, version=timestamp.version, data=fetched.timestamp))
    return VerifiedRepository(updates=ordered, warnings=warnings)


class ImportState(StrEnum):
    """How a repository here relates to its source."""

    NEW = "new"
    BEHIND = "behind"
    SAME = "same"
    HANDED_OVER = "handed over"


@dataclass(frozen=True, slots=True)
class StoredRole:
    """A role as stored here: its current version and the sha256 of each stored version."""

    current: int
    sha256: Mapping[int, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportPlan:
    """What an import run does to one repository."""

    state: ImportState
    updates: list[MetaUpdate]


def _newest(updates: list[MetaUpdate], role: str) -> int:
    return max((u.version for u in updates if u.role == role), default=0)


def plan_import(
    verified: VerifiedRepository,
    stored: Mapping[str, StoredRole],
    *,
    stored_timestamp: bytes | None,
    sha256: Callable[[bytes], str],
) -> ImportPlan:
    """Decide what a (re-)run stores, so that running the import again is harmless.

    * nothing stored: everything (NEW);
    * the stored timestamp is the source's: nothing (SAME);
    * the root here is newer than the source's newest: the owner handed the
      repository over (a root rotation published here), the source is no
      longer authoritative, nothing is stored (HANDED_OVER);
    * otherwise the copy here is an older state of the source: every version
      above the stored one (BEHIND).

    Raises:
        RepositoryImportError: the copy here and the source disagree on a version
            (written here since the import): purge it here and import again.
    """
    if stored_timestamp is None:
        return ImportPlan(state=ImportState.NEW, updates=verified.updates)
    source_timestamp = verified.updates[-1].data
    if sha256(stored_timestamp) == sha256(source_timestamp):
        return ImportPlan(state=ImportState.SAME, updates=[])
    here_root = stored.get(ROOT)
    if here_root is not None and here_root.current > _newest(verified.updates, ROOT):
        return ImportPlan(state=ImportState.HANDED_OVER, updates=[])
    newer = []
    for update in verified.updates:
        here = stored.get(update.role)
        if here is None or update.version > here.current:
            newer.append(update)
            continue
        known = here.sha256.get(update.version)
        if update.version == here.current and known != sha256(update.data):
            raise RepositoryImportError(
                f"{update.role} v{update.version} here differs from the source's; "
                "purge the repository here and import it again"
            )
    for role, here in stored.items():
        source_version = _newest(verified.updates, role)
        if here.current > source_version:
            raise RepositoryImportError(
                f"{role} v{here.current} here is newer than the source's v{source_version}; "
                "purge the repository here and import it again"
            )
    return ImportPlan(state=ImportState.BEHIND, updates=newer)


def describe(updates: list[MetaUpdate]) -> str:
    """One line: how many of each role."""
    roots = sum(1 for u in updates if u.role == ROOT)
    delegations = sum(1 for u in updates if u.role not in (ROOT, TARGETS, SNAPSHOT, TIMESTAMP))
    versions = {u.role: u.version for u in updates}
    parts = [f"{roots} root version(s)"]
    if TARGETS in versions:
        parts.append(f"targets v{versions[TARGETS]}")
    parts.append(f"{delegations} delegation(s)")
    parts.extend(f"{role} v{versions[role]}" for role in (SNAPSHOT, TIMESTAMP) if role in versions)
    return ", ".join(parts)
