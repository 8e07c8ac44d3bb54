"""Importing a repository from another Notary v1 server (``admin import``).

The way off a notary server that is shutting down: every root version, the
current targets, delegations, snapshot and timestamp are fetched over the
public API, verified, and stored here in one transaction.

Verification on the way:

* root version 1 is signed by its own root keys, and each later version by
  the threshold of the previous version's root keys and of its own
  (the chain of roots a client walks);
* the newest root, targets, delegations and snapshot pass the same
  validation as an upload (:func:`notary_tuf.validation.validate_update`):
  signatures, certificates, expiry, and the snapshot's hashes of every file;
* the timestamp is signed by the root's timestamp keys and its hash of the
  snapshot matches.

The timestamp stays signed by the source server's key, which this server does
not hold; it is served until it expires. The owner then runs
``notary key rotate GUN timestamp -r`` against this server (and ``snapshot
-r`` when the source managed the snapshot); see ADR 0009.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from notary_tuf.errors import NotaryTufError, ValidationError
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Metadata
from notary_tuf.validation import MetaUpdate, validate_update
from notary_tuf.verify import verify_signatures

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from datetime import datetime

    from notary_tuf.models import Root, Targets, Timestamp

__all__ = [
    "FetchedRepository",
    "RepositoryImportError",
    "describe",
    "fetch_repository",
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
        roots: every root version, oldest first, by version.
        files: the current targets, delegations and snapshot, by role.
        timestamp: the current timestamp.
    """

    gun: str
    roots: dict[int, bytes]
    files: dict[str, bytes]
    timestamp: bytes


def _role_path(gun: str, name: str) -> str:
    return f"/v2/{quote(gun)}/_trust/tuf/{quote(name)}.json"


async def _require(fetch: Callable[[str], Awaitable[bytes | None]], path: str) -> bytes:
    data = await fetch(path)
    if data is None:
        raise RepositoryImportError(f"{path}: not found on the source server")
    return data


async def fetch_repository(
    fetch: Callable[[str], Awaitable[bytes | None]], gun: str
) -> FetchedRepository:
    """Download a repository through ``fetch`` (path → body, None on 404).

    Raises:
        RepositoryImportError: a required file is missing or does not parse.
    """
    try:
        timestamp = await _require(fetch, _role_path(gun, TIMESTAMP))
        current_root: Metadata[Root] = Metadata.from_bytes(
            ROOT, await _require(fetch, _role_path(gun, ROOT))
        )
        roots = {}
        for version in range(1, current_root.version):
            data = await fetch(_role_path(gun, f"{version}.{ROOT}"))
            if data is not None:
                roots[version] = data
        roots[current_root.version] = await _require(
            fetch, _role_path(gun, f"{current_root.version}.{ROOT}")
        )
        files = {SNAPSHOT: await _require(fetch, _role_path(gun, SNAPSHOT))}
        pending = [TARGETS]
        while pending:
            role = pending.pop()
            data = await fetch(_role_path(gun, role))
            if data is None:
                if role == TARGETS:
                    raise RepositoryImportError(f"{gun}: the source has no targets")
                continue  # a delegation never published
            files[role] = data
            targets: Metadata[Targets] = Metadata.from_bytes(role, data)
            if targets.signed.delegations is not None:
                pending.extend(d.name for d in targets.signed.delegations.roles)
            if len(files) > MAX_DELEGATIONS:
                raise RepositoryImportError(f"{gun}: more than {MAX_DELEGATIONS} delegations")
    except NotaryTufError as e:
        raise RepositoryImportError(f"{gun}: the source serves invalid metadata: {e}") from e
    return FetchedRepository(gun=gun, roots=roots, files=files, timestamp=timestamp)


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


def verify_repository(fetched: FetchedRepository, *, now: datetime) -> list[MetaUpdate]:
    """Verify a fetched repository and return the files to store, in order.

    Raises:
        RepositoryImportError: any check fails (the message says which).
    """
    gun = fetched.gun
    try:
        _check_root_chain(gun, fetched.roots)
        newest = max(fetched.roots)
        uploads = {ROOT: fetched.roots[newest], **fetched.files}
        validated = validate_update(gun=gun, current={}, uploads=uploads, now=now)
        root = validated.root.signed
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
    older_roots = [
        MetaUpdate(role=ROOT, version=v, data=fetched.roots[v]) for v in sorted(fetched.roots)[:-1]
    ]
    stamp = MetaUpdate(role=TIMESTAMP, version=timestamp.version, data=fetched.timestamp)
    return [*older_roots, *validated.updates, stamp]


def describe(updates: list[MetaUpdate]) -> str:
    """One line: how many of each role."""
    roots = sum(1 for u in updates if u.role == ROOT)
    delegations = sum(1 for u in updates if u.role not in (ROOT, TARGETS, SNAPSHOT, TIMESTAMP))
    versions = {u.role: u.version for u in updates}
    return (
        f"{roots} root version(s), targets v{versions.get(TARGETS)}, "
        f"{delegations} delegation(s), snapshot v{versions.get(SNAPSHOT)}, "
        f"timestamp v{versions.get(TIMESTAMP)}"
    )
