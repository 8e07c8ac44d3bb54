"""A read-only TUF client over the trust server's public API, as the Go notary client reads it.

One :meth:`TUFClient.load` fetches and verifies a repository's trust data the
way ``client/tufclient.go`` does on ``notary list`` / ``docker pull``:

1. ``root.json``: trusted on first use (or checked against key IDs pinned in
   the configuration); a newer version is accepted only through every
   intermediate ``<n>.root.json``, each signed by a threshold of the previous
   root's keys and of its own; an older one is a rollback.
2. ``timestamp.json``, signed by the root's timestamp keys;
3. ``snapshot.<sha256>.json``, the file the timestamp names by hash;
4. ``targets.<sha256>.json`` and each delegation the snapshot lists, breadth
   first, each signed by a threshold of the keys its parent declares. As in
   Go, an expired or under-signed *delegation* is skipped (its targets do not
   count); any other fault fails the whole load.

Every file must be unexpired, and no version may go below one seen before.
Fetching by hash means a publish between two requests cannot mix two
generations of files. The result, :class:`TrustedRepository`, resolves
targets in docker's order (:meth:`TrustedRepository.targets_for`).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from notary_tuf.certs import valid_root_leaf_keys
from notary_tuf.errors import ExpiredError, NotaryTufError, ThresholdError
from notary_tuf.keys import PublicKey
from notary_tuf.models import DelegatedRole, FileMeta, Root, Snapshot, Targets, Timestamp
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP, parent_role
from notary_tuf.signed import Metadata
from notary_tuf.verify import verify_expiry, verify_signatures

__all__ = [
    "MAX_DELEGATIONS",
    "MAX_ROOT_STEPS",
    "Fetcher",
    "SignedTarget",
    "TUFClient",
    "TrustDataError",
    "TrustServerError",
    "TrustedRepository",
]

logger = logging.getLogger(__name__)

Fetcher = Callable[[str, str, int], Awaitable[bytes | None]]
"""``(gun, file name without .json, size limit) -> bytes``, ``None`` when the server has none.

It raises :class:`TrustServerError` when the server cannot be asked or answers
anything but 200 or 404, or when the body is longer than the limit.
"""

MAX_ROOT_STEPS: Final = 64
"""Root versions followed in one load (a repository rotating faster is refused)."""

MAX_DELEGATIONS: Final = 256
"""Delegation files loaded per repository."""

MAX_ROOT_BYTES: Final = 16 * 1024 * 1024
"""Size limit of a root or timestamp file, whose length nothing names (ADR 0020)."""


class TrustServerError(Exception):
    """The trust server could not be asked, or answered with an error."""


class TrustDataError(Exception):
    """The trust data is not trustworthy.

    Attributes:
        expired: the fault is an expired file (reported apart from the others).
    """

    def __init__(self, message: str, *, expired: bool = False) -> None:
        """Keep the message and whether the fault is an expiry."""
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedTarget:
    """A target as the trust data records it.

    Attributes:
        name: the target name (the tag).
        sha256: hex digest of the manifest.
        length: its length.
        role: the role it was found in.
        signers: key IDs that validly signed that role's file.
    """

    name: str
    sha256: str
    length: int
    role: str
    signers: frozenset[str]


@dataclass(frozen=True, slots=True)
class _LoadedRole:
    """A verified targets file, the paths it may sign for, and who signed it."""

    targets: Targets
    paths: tuple[str, ...]
    signers: frozenset[str]


@dataclass(slots=True, kw_only=True)
class TrustedRepository:
    """The verified trust data of one GUN.

    Attributes:
        gun: the repository.
        expires: the earliest ``expires`` of the files used.
        timestamp_version: the timestamp's version.
    """

    gun: str
    expires: datetime
    timestamp_version: int
    roles: Mapping[str, _LoadedRole]
    _resolved: dict[tuple[str, ...], dict[str, SignedTarget]] = field(default_factory=dict)

    def targets_for(self, roles: tuple[str, ...]) -> Mapping[str, SignedTarget]:
        """Every target name → its entry, resolved as Go's ``ListTargets(roles...)``.

        For each role in ``roles``, in order, the tree under it is walked
        breadth first (the other roles in ``roles`` skipped); a name keeps the
        first entry found, in a role whose paths allow it.
        """
        found = self._resolved.get(roles)
        if found is None:
            found = {}
            for start in roles:
                skip = frozenset(roles) - {start}
                for name, role in self._walk(start, skip):
                    for target, meta in role.targets.targets.items():
                        if target not in found and _allows(role.paths, target):
                            found[target] = _signed_target(target, meta, name, role.signers)
            self._resolved[roles] = found
        return found

    def _walk(self, start: str, skip: frozenset[str]) -> list[tuple[str, _LoadedRole]]:
        """Go's ``WalkTargets("", start, …, skip...)``: the roles visited, in order."""
        visited: list[tuple[str, _LoadedRole]] = []
        queue = deque([TARGETS])
        while queue:
            name = queue.popleft()
            role = self.roles.get(name)
            if role is None:
                continue
            children = [c for c in _children(name, self.roles) if c in self.roles]
            if start.startswith(name + "/"):
                queue.extend(children)  # an ancestor of the start: descend, do not visit
                continue
            if (start in (name, "") or name.startswith(start + "/")) and name not in skip:
                visited.append((name, role))
                queue.extend(children)
        return visited


def _children(name: str, roles: Mapping[str, _LoadedRole]) -> list[str]:
    delegations = roles[name].targets.delegations
    if delegations is None:
        return []
    return [d.name for d in delegations.roles if parent_role(d.name) == name]


def _allows(paths: tuple[str, ...], target: str) -> bool:
    return any(target.startswith(prefix) for prefix in paths)


def _signed_target(name: str, meta: FileMeta, role: str, signers: frozenset[str]) -> SignedTarget:
    return SignedTarget(
        name=name, sha256=meta.sha256_hex or "", length=meta.length, role=role, signers=signers
    )


def _restrict(parent_paths: tuple[str, ...], child: DelegatedRole) -> tuple[str, ...]:
    """Go ``RestrictDelegationPathPrefixes``: the child's paths inside its parent's."""
    return tuple(p for p in child.paths if any(p.startswith(pp) for pp in parent_paths))


class TUFClient:
    """Loads trust data; remembers each GUN's root and the versions seen (rollback checks).

    The memory is this process's: a restarted gate trusts the next root it sees
    for a GUN that is not pinned in the configuration (ADR 0024).
    """

    def __init__(
        self,
        fetch: Fetcher,
        *,
        pinned_root_keys: Mapping[str, frozenset[str]] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Fetch with ``fetch``; a GUN in ``pinned_root_keys`` needs one of its keys on root."""
        self._fetch = fetch
        self._pinned = dict(pinned_root_keys or {})
        self._clock = clock
        self._roots: dict[str, Metadata[Root]] = {}
        self._versions: dict[tuple[str, str], int] = {}

    async def load(self, gun: str) -> TrustedRepository | None:
        """Fetch and verify ``gun``'s trust data; ``None`` when the server has none.

        Raises:
            TrustServerError: the trust server failed.
            TrustDataError: the trust data failed verification.
        """
        now = self._clock()
        try:
            root = await self._update_root(gun, now)
            if root is None:
                return None
            return await self._load_from(gun, root.signed, now)
        except ExpiredError as e:
            raise TrustDataError(f"trust data for {gun}: {e}", expired=True) from e
        except NotaryTufError as e:
            raise TrustDataError(f"trust data for {gun}: {e}") from e

    async def _get(self, gun: str, name: str, limit: int) -> bytes:
        data = await self._fetch(gun, name, limit)
        if data is None:
            raise TrustDataError(f"trust data for {gun}: the server has no {name}.json")
        return data

    # ------------------------------------------------------------------ root

    async def _update_root(self, gun: str, now: datetime) -> Metadata[Root] | None:
        data = await self._fetch(gun, ROOT, MAX_ROOT_BYTES)
        if data is None:
            return None
        latest: Metadata[Root] = Metadata.from_bytes(ROOT, data)
        trusted = self._roots.get(gun)
        if trusted is None:
            self._check_new_root(gun, latest, now, previous=None)
            self._check_pins(gun, latest, now)
        elif latest.version < trusted.version:
            raise TrustDataError(
                f"trust data for {gun}: root version {latest.version} is older than "
                f"the trusted version {trusted.version}"
            )
        elif latest.version == trusted.version:
            if latest.envelope.canonical != trusted.envelope.canonical:
                raise TrustDataError(f"trust data for {gun}: root changed without a new version")
            latest = trusted
        else:
            latest = await self._rotate(gun, trusted, latest, now)
        verify_expiry(latest.signed, now=now, role=ROOT)
        self._roots[gun] = latest
        return latest

    async def _rotate(
        self, gun: str, trusted: Metadata[Root], latest: Metadata[Root], now: datetime
    ) -> Metadata[Root]:
        """Follow each root version from ``trusted`` to ``latest``, each signed by the previous."""
        if latest.version - trusted.version > MAX_ROOT_STEPS:
            raise TrustDataError(
                f"trust data for {gun}: root jumped from version {trusted.version} "
                f"to {latest.version}, more than {MAX_ROOT_STEPS} rotations at once"
            )
        current = trusted
        for version in range(trusted.version + 1, latest.version + 1):
            if version == latest.version:
                step = latest
            else:
                step = Metadata.from_bytes(
                    ROOT, await self._get(gun, f"{version}.{ROOT}", MAX_ROOT_BYTES)
                )
            if step.version != version:
                raise TrustDataError(
                    f"trust data for {gun}: {version}.root.json has version {step.version}"
                )
            self._check_new_root(gun, step, now, previous=current)
            current = step
        logger.info("root of %s rotated from version %d to %d", gun, trusted.version, version)
        return current

    @staticmethod
    def _check_new_root(
        gun: str, root: Metadata[Root], now: datetime, *, previous: Metadata[Root] | None
    ) -> None:
        """A threshold of the previous root's keys, and of its own, must sign ``root``."""
        if previous is not None:
            old = previous.signed
            old_keys = valid_root_leaf_keys(
                old.keys, old.roles[ROOT].keyids, gun, now=now, check_expiry=False
            )
            verify_signatures(root.envelope, old_keys, old.roles[ROOT].threshold, role=ROOT)
        new = root.signed
        if ROOT not in new.roles:
            raise TrustDataError(f"trust data for {gun}: root lists no root role")
        keys = valid_root_leaf_keys(
            new.keys, new.roles[ROOT].keyids, gun, now=now, check_expiry=True
        )
        verify_signatures(root.envelope, keys, new.roles[ROOT].threshold, role=ROOT)

    def _check_pins(self, gun: str, root: Metadata[Root], now: datetime) -> None:
        pinned = self._pinned.get(gun)
        if pinned is None:
            return
        signed = root.signed
        keys = valid_root_leaf_keys(
            signed.keys, signed.roles[ROOT].keyids, gun, now=now, check_expiry=True
        )
        listed = set(signed.roles[ROOT].keyids) | set(keys)
        if not pinned & listed:
            raise TrustDataError(
                f"trust data for {gun}: no root key matches the key IDs pinned in the configuration"
            )

    # ------------------------------------------------------------------ the rest

    async def _load_from(self, gun: str, root: Root, now: datetime) -> TrustedRepository:
        timestamp: Metadata[Timestamp] = Metadata.from_bytes(
            TIMESTAMP, await self._get(gun, TIMESTAMP, MAX_ROOT_BYTES)
        )
        self._verify_base(gun, root, timestamp, now)
        snapshot_meta = timestamp.signed.snapshot_meta
        snapshot: Metadata[Snapshot] = Metadata.from_bytes(
            SNAPSHOT, await self._by_hash(gun, SNAPSHOT, snapshot_meta)
        )
        self._verify_base(gun, root, snapshot, now)
        roles = await self._load_targets(gun, root, snapshot.signed, now)
        expires = min(
            timestamp.signed.expires.to_datetime(),
            snapshot.signed.expires.to_datetime(),
            *(r.targets.expires.to_datetime() for r in roles.values()),
        )
        return TrustedRepository(
            gun=gun, expires=expires, timestamp_version=timestamp.version, roles=roles
        )

    def _verify_base(self, gun: str, root: Root, metadata: Metadata[Any], now: datetime) -> None:
        role = metadata.role
        if role not in root.roles:
            raise TrustDataError(f"trust data for {gun}: root lists no {role} role")
        verify_signatures(
            metadata.envelope, root.role_keys(role), root.roles[role].threshold, role=role
        )
        verify_expiry(metadata.signed, now=now, role=role)
        self._check_version(gun, role, metadata.version)

    def _check_version(self, gun: str, role: str, version: int) -> None:
        seen = self._versions.get((gun, role), 0)
        if version < seen:
            raise TrustDataError(
                f"trust data for {gun}: {role} version {version} is older than version {seen}, "
                "seen before"
            )
        self._versions[(gun, role)] = version

    async def _by_hash(self, gun: str, role: str, meta: FileMeta) -> bytes:
        digest = meta.sha256_hex
        if digest is None:
            raise TrustDataError(f"trust data for {gun}: no sha256 recorded for {role}")
        data = await self._get(gun, f"{role}.{digest}", meta.length)
        if len(data) != meta.length:
            raise TrustDataError(f"trust data for {gun}: {role} has the wrong length")
        meta.check(data, role)
        return data

    async def _load_targets(
        self, gun: str, root: Root, snapshot: Snapshot, now: datetime
    ) -> dict[str, _LoadedRole]:
        """``targets`` and every delegation the snapshot lists, breadth first."""
        if TARGETS not in snapshot.meta or TARGETS not in root.roles:
            raise TrustDataError(f"trust data for {gun}: root or snapshot lacks the targets role")
        targets: Metadata[Targets] = Metadata.from_bytes(
            TARGETS, await self._by_hash(gun, TARGETS, snapshot.meta[TARGETS])
        )
        result = verify_signatures(
            targets.envelope, root.role_keys(TARGETS), root.roles[TARGETS].threshold, role=TARGETS
        )
        verify_expiry(targets.signed, now=now, role=TARGETS)
        loaded = {TARGETS: _LoadedRole(targets.signed, ("",), result.signed)}
        queue = deque(self._declared(TARGETS, loaded[TARGETS]))
        while queue:
            declared, keys, paths = queue.popleft()
            if declared.name in loaded or declared.name not in snapshot.meta:
                continue  # Go: a role without a checksum is skipped
            if len(loaded) > MAX_DELEGATIONS:
                raise TrustDataError(f"trust data for {gun}: more than {MAX_DELEGATIONS} roles")
            data = await self._by_hash(gun, declared.name, snapshot.meta[declared.name])
            role: Metadata[Targets] = Metadata.from_bytes(declared.name, data)
            try:
                result = verify_signatures(
                    role.envelope, keys, declared.threshold, role=declared.name
                )
                verify_expiry(role.signed, now=now, role=declared.name)
            except (ExpiredError, ThresholdError) as e:
                logger.warning("skipping delegation %s of %s: %s", declared.name, gun, e)
                continue
            loaded[declared.name] = _LoadedRole(role.signed, paths, result.signed)
            queue.extend(self._declared(declared.name, loaded[declared.name]))
        return loaded

    @staticmethod
    def _declared(
        name: str, parent: _LoadedRole
    ) -> list[tuple[DelegatedRole, dict[str, PublicKey], tuple[str, ...]]]:
        """The valid child delegations of ``name``: direct children, keys, restricted paths."""
        delegations = parent.targets.delegations
        if delegations is None:
            return []
        return [
            (
                child,
                {k: delegations.keys[k] for k in child.keyids if k in delegations.keys},
                _restrict(parent.paths, child),
            )
            for child in delegations.roles
            if parent_role(child.name) == name
        ]
