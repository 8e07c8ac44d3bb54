"""Whether an upload is a valid update of a repository.

Port of Go ``server/handlers/validation.go`` together with the parts of
``tuf/builder.go`` and ``trustpinning/certs.go`` it relies on, as a pure
function: the caller loads the repository's current files, calls
:func:`validate_update`, then generates and signs the snapshot (when the server
holds its key) and the timestamp with :mod:`notary_tuf.generate`, and stores the
lot atomically. Nothing here does I/O or signs.

Deliberate differences from Go, each recorded in an ADR:

* The stored root's certificates are not checked for expiry when it is loaded
  as the trust anchor of an update (Go does, so a repository whose root
  certificates expired can never be updated again, not even to rotate them).
* Snapshot meta for a role is taken over the exact stored bytes, the bytes every
  client downloads, not over Go's re-serialisation of the parsed file. The two
  are equal for every file the Go client writes; for any other accepted upload
  (trailing zeros in ``expires``, an unknown field) Go's server-made snapshot
  names a file that cannot be fetched, ours names the one it serves (ADR 0017).
* Versions above 2,147,483,647 are refused: they do not fit the ``version``
  column and made Go repositories unusable (Cure53 TUF-01-002).

Errors raised are Go's five validation types (``ValidationError`` and its
subclasses), with ``msg`` saying what failed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from notary_tuf.certs import check_certificate, load_certificate_bundle, valid_root_leaf_keys
from notary_tuf.errors import (
    BadRootError,
    BadSnapshotError,
    BadTargetsError,
    CertificateError,
    FormatError,
    InvalidRoleNameError,
    NotaryTufError,
    ValidationError,
    VerificationError,
)
from notary_tuf.keys import PublicKey
from notary_tuf.models import DelegatedRole, FileMeta, Root, Snapshot, Targets
from notary_tuf.rolenames import (
    ROOT,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
    is_delegation,
    is_valid_role,
    parent_role,
)
from notary_tuf.signed import Metadata
from notary_tuf.verify import verify_expiry, verify_signatures, verify_version

__all__ = ["MAX_VERSION", "MetaUpdate", "ValidatedUpdate", "validate_update"]

logger = logging.getLogger(__name__)

MAX_VERSION: Final = 2**31 - 1
"""The largest version the ``tuf_files.version`` column (a 32-bit integer) holds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaUpdate:
    """One file to store: a role's new version and its exact bytes (Go ``storage.MetaUpdate``)."""

    role: str
    version: int
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidatedUpdate:
    """The outcome of a successful validation.

    Attributes:
        updates: the uploaded files to store, in order: root (if uploaded),
            targets and delegations parent-first, snapshot (if uploaded).
        root: the root in force after the update (uploaded or stored).
        loaded: every root/targets/delegation file loaded while validating, by
            role name; the snapshot the server generates records exactly these.
        snapshot: the uploaded snapshot, or None when the server must make one.
    """

    updates: tuple[MetaUpdate, ...]
    root: Metadata[Root]
    loaded: Mapping[str, bytes]
    snapshot: Metadata[Snapshot] | None


class _RepoLoader:
    """Loads roles in dependency order, like Go's ``repoBuilder``, and verifies each.

    Every method takes a parsed file and raises a ``NotaryTufError`` when it must
    not be trusted; the caller decides which validation error that becomes.
    """

    def __init__(self, gun: str, now: datetime) -> None:
        self.gun = gun
        self.now = now
        self.root: Metadata[Root] | None = None
        self.targets: dict[str, Metadata[Targets]] = {}
        # Files loaded but not yet matched against a snapshot (Go loadedNotChecksummed).
        self.unchecked: dict[str, bytes] = {}

    def _root(self) -> Root:
        if self.root is None:  # pragma: no cover - validate_update loads root first
            raise FormatError("root must be loaded first")
        return self.root.signed

    def load_root(
        self,
        root: Metadata[Root],
        *,
        previous: Metadata[Root] | None,
        min_version: int,
        allow_expired: bool,
        check_cert_expiry: bool,
    ) -> None:
        """Check a root's certificates, its self-signature and (if given) the previous root's."""
        signed = root.signed
        leaf_keys = valid_root_leaf_keys(
            signed.keys,
            signed.roles[ROOT].keyids,
            self.gun,
            now=self.now,
            check_expiry=check_cert_expiry,
        )
        if previous is not None:
            try:
                trusted = valid_root_leaf_keys(
                    previous.signed.keys,
                    previous.signed.roles[ROOT].keyids,
                    self.gun,
                    now=self.now,
                    check_expiry=False,
                )
            except CertificateError as e:
                raise CertificateError(
                    "could not retrieve trusted certs from previous root role data"
                ) from e
            threshold = previous.signed.roles[ROOT].threshold
            try:
                verify_signatures(root.envelope, trusted, threshold, role=ROOT)
            except VerificationError as e:
                raise VerificationError(
                    "could not rotate trust to a new trusted root: "
                    "failed to validate data with current trusted certificates"
                ) from e
        try:
            verify_signatures(root.envelope, leaf_keys, signed.roles[ROOT].threshold, role=ROOT)
        except VerificationError as e:
            raise VerificationError(
                "could not validate the path to a trusted root: "
                "failed to validate integrity of roots"
            ) from e
        verify_version(signed, min_version=min_version, role=ROOT)
        if not allow_expired:
            verify_expiry(signed, now=self.now, role=ROOT)
        self.root = root
        self.unchecked[ROOT] = _raw(root)

    def load_targets(self, metadata: Metadata[Targets], *, allow_expired: bool) -> None:
        """Check ``targets`` or a delegation against the root or its loaded parent."""
        role = metadata.role
        if role == TARGETS:
            keys = self._root().role_keys(TARGETS)
            threshold = self._root().roles[TARGETS].threshold
        else:
            keys, threshold = self._delegation_keys(role)
        verify_signatures(metadata.envelope, keys, threshold, role=role)
        if not allow_expired:
            verify_expiry(metadata.signed, now=self.now, role=role)
        self.targets[role] = metadata
        self.unchecked[role] = _raw(metadata)

    def declared_chain(self, role: str) -> list[DelegatedRole]:
        """The declarations of ``role`` and of each delegating ancestor, from the loaded parents.

        Raises:
            InvalidRoleNameError: a parent does not declare its child.
        """
        chain = []
        while role != TARGETS:
            parent = self.targets.get(parent_role(role))
            delegations = parent.signed.delegations if parent is not None else None
            declared = delegations.get(role) if delegations is not None else None
            if declared is None:
                raise InvalidRoleNameError(f"tuf: invalid role {role}. delegation does not exist")
            chain.append(declared)
            role = parent_role(role)
        return chain

    def _delegation_keys(self, role: str) -> tuple[dict[str, PublicKey], int]:
        """Return the keys and threshold the loaded parent declares for ``role``.

        A loaded parent was itself checked against its own parent when it was
        loaded, so finding ``role`` in it means the whole chain from ``targets``
        holds (Go ``GetDelegationRole`` walks it again).
        """
        if TARGETS not in self.targets:
            raise FormatError("targets must be loaded first")
        parent = self.targets.get(parent_role(role))
        delegations = parent.signed.delegations if parent is not None else None
        declared = delegations.get(role) if delegations is not None else None
        if delegations is None or declared is None:
            raise InvalidRoleNameError(f"tuf: invalid role {role}. delegation does not exist")
        keys = {keyid: delegations.keys[keyid] for keyid in declared.keyids}
        for key in keys.values():
            _check_delegation_certificate(key, self.now)
        return keys, declared.threshold

    def load_snapshot(self, snapshot: Metadata[Snapshot]) -> None:
        """Check an uploaded snapshot and match every loaded file against it."""
        verify_signatures(
            snapshot.envelope,
            self._root().role_keys(SNAPSHOT),
            self._root().roles[SNAPSHOT].threshold,
            role=SNAPSHOT,
        )
        verify_expiry(snapshot.signed, now=self.now, role=SNAPSHOT)
        for role, loaded in self.unchecked.items():
            entry = snapshot.signed.meta.get(role)
            if entry is None:
                raise VerificationError(f"snapshot has no checksum for {role}")
            entry.check(loaded, role)


def _raw(metadata: Metadata[Any]) -> bytes:
    raw = metadata.envelope.raw
    if raw is None:  # pragma: no cover - everything loaded here was parsed from bytes
        raise FormatError(f"{metadata.role} has no bytes")
    return raw


def _check_delegation_certificate(key: PublicKey, now: datetime) -> None:
    """Refuse delegation keys that are SHA-1 or weak RSA certificates (expiry not checked)."""
    try:
        certificate = load_certificate_bundle(key.public)[0]
    except CertificateError:
        return  # not a certificate: nothing to check
    check_certificate(certificate, now=now, check_expiry=False)


def _role_order(name: str) -> tuple[int, str]:
    # Go utils.RoleList: fewer path segments first, then by name.
    return (name.count("/"), name)


def _parse_upload(
    role: str, data: bytes, error_type: type[ValidationError], parsed: Mapping[str, Any]
) -> Metadata[Any]:
    """Parse an uploaded file; a malformed one or an oversized version is ``error_type``.

    ``parsed`` holds the JSON value of uploads the caller parsed already (by role).
    """
    try:
        metadata: Metadata[Any] = (
            Metadata.from_parsed(role, data, parsed[role])
            if role in parsed
            else Metadata.from_bytes(role, data)
        )
    except NotaryTufError as e:
        raise error_type(str(e)) from e
    if metadata.version > MAX_VERSION:
        raise error_type(f"{role} version {metadata.version} exceeds the maximum {MAX_VERSION}")
    return metadata


STORED_ROOTS_REMEMBERED: Final = 256
"""Stored roots whose check :func:`_checked_stored_root` keeps (per process)."""


def _load_stored_root(gun: str, now: datetime, current: Mapping[str, bytes]) -> _RepoLoader:
    loader = _RepoLoader(gun, now)
    stored = current.get(ROOT)
    if stored is not None:
        try:
            root = _checked_stored_root(gun, stored)
        except NotaryTufError as e:
            raise ValidationError(f"stored root could not be loaded: {e}") from e
        loader.root = root
        loader.unchecked[ROOT] = stored
    return loader


@functools.lru_cache(maxsize=STORED_ROOTS_REMEMBERED)
def _checked_stored_root(gun: str, stored: bytes) -> Metadata[Root]:
    """Parse the stored root and check it as Go's repoBuilder does on every update.

    Remembered by (GUN, bytes): without expiry checks (a stored root may have
    expired, its certificates too) nothing but these two decides the outcome,
    so every publish to a repository need not re-parse its root and re-verify
    the root signatures and certificates (about 15% of a publish's CPU time).
    Failures raise and are not remembered.
    """
    root: Metadata[Root] = Metadata.from_bytes(ROOT, stored)
    _RepoLoader(gun, datetime.fromtimestamp(0, UTC)).load_root(  # no expiry is checked
        root, previous=None, min_version=1, allow_expired=True, check_cert_expiry=False
    )
    return root


def _load_stored_targets(loader: _RepoLoader, role: str, current: Mapping[str, bytes]) -> None:
    stored = current.get(role)
    if stored is None:
        return  # Go ignores a missing ancestor; loading the child then fails
    try:
        loader.load_targets(Metadata.from_bytes(role, stored), allow_expired=True)
    except NotaryTufError as e:
        raise ValidationError(f"stored {role} could not be loaded: {e}") from e


def _root_update(
    loader: _RepoLoader, data: bytes, *, gun: str, now: datetime, parsed: Mapping[str, Any]
) -> tuple[_RepoLoader, MetaUpdate]:
    """Validate an uploaded root against the stored one; return the loader trusting it."""
    root = _parse_upload(ROOT, data, BadRootError, parsed)
    previous = loader.root
    current_version = previous.version if previous is not None else 1
    if root.version not in (current_version, current_version + 1):
        raise BadRootError(
            "Root modifications must increment the version. "
            f"Current {current_version}, new {root.version}"
        )
    new_loader = _RepoLoader(gun, now)
    try:
        new_loader.load_root(
            root,
            previous=previous,
            min_version=current_version,
            allow_expired=False,
            check_cert_expiry=True,
        )
    except NotaryTufError as e:
        raise BadRootError(str(e)) from e
    return new_loader, MetaUpdate(role=ROOT, version=root.version, data=data)


def _targets_update(
    loader: _RepoLoader,
    role: str,
    data: bytes,
    current: Mapping[str, bytes],
    parsed: Mapping[str, Any],
    *,
    uploaded: Collection[str],
) -> MetaUpdate:
    """Load the role's missing ancestors from the store, then validate the upload."""
    missing_ancestors = []
    ancestor = role
    while ancestor != TARGETS:
        ancestor = parent_role(ancestor)
        if ancestor not in loader.targets:
            missing_ancestors.append(ancestor)
    for name in reversed(missing_ancestors):
        _load_stored_targets(loader, name, current)
    targets = _parse_upload(role, data, BadTargetsError, parsed)
    try:
        loader.load_targets(targets, allow_expired=False)
        if role != TARGETS:
            _check_paths(targets.signed, loader.declared_chain(role), current, role, uploaded)
    except NotaryTufError as e:
        raise BadTargetsError(str(e)) from e
    return MetaUpdate(role=role, version=targets.version, data=data)


def _check_paths(
    targets: Targets,
    chain: list[DelegatedRole],
    current: Mapping[str, bytes],
    role: str,
    uploaded: Collection[str],
) -> None:
    """Refuse a delegation's new or changed targets outside the paths its stored parents grant.

    Go's server does not check paths at all (its client ignores such targets when
    reading). Each link of ``chain`` (the role's declaration in its parent, the
    parent's in the grandparent, ...) is checked unless that parent is uploaded in
    the same update: whoever signed the parent could have declared any paths, and
    the Go client applies a publish's staged changes in order, so a file it
    uploads may list a target that paths declared earlier in the same publish
    admitted and later ones no longer do (client walks, seeds 11010 and 12014).
    A delegate uploading alone is checked against every stored ancestor. Entries
    the stored version already held unchanged are let through too: the Go client
    re-uploads them after the parent narrows the role's paths.

    Raises:
        BadTargetsError: a new or changed target is outside the delegated paths.
    """
    parents = []
    child = role
    for _ in chain:
        child = parent_role(child)
        parents.append(child)
    granted = [
        declared for declared, parent in zip(chain, parents, strict=True) if parent not in uploaded
    ]
    outside = [name for name in targets.targets if not all(d.allows_path(name) for d in granted)]
    if not outside:
        return
    stored = current.get(role)
    kept = Metadata.from_bytes(role, stored).signed.targets if stored is not None else {}
    for name in outside:
        if kept.get(name) != targets.targets[name]:
            raise BadTargetsError(f"target {name!r} is outside the paths delegated to {role}")


def _snapshot_update(
    loader: _RepoLoader,
    data: bytes,
    *,
    uploaded: Collection[str],
    current_snapshot: Snapshot | None,
    parsed: Mapping[str, Any],
) -> Metadata[Snapshot]:
    snapshot = _parse_upload(SNAPSHOT, data, BadSnapshotError, parsed)
    try:
        loader.load_snapshot(snapshot)
    except NotaryTufError as e:
        raise BadSnapshotError(str(e)) from e
    if current_snapshot is not None:
        _check_no_rollback(snapshot.signed, current_snapshot, uploaded)
    return snapshot


def _check_no_rollback(snapshot: Snapshot, current: Snapshot, uploaded: Collection[str]) -> None:
    """Refuse a snapshot that names another file than the current one for a role not uploaded.

    The current snapshot names the current file of every role; a new snapshot may
    name a new file only for a role uploaded with it, so an upload holding only a
    snapshot cannot bring an older targets file back (Go accepts that). A role the
    new snapshot leaves out is not checked here.

    Raises:
        BadSnapshotError: the snapshot names an older (or any other) file of a role.
    """
    for role, entry in current.meta.items():
        if role in uploaded:
            continue
        named = snapshot.meta.get(role)
        if named is not None and not _same_file(named, entry):
            raise BadSnapshotError(
                f"snapshot names a {role} that is not the current one, "
                f"and no new {role} was uploaded with it"
            )


def _same_file(a: FileMeta, b: FileMeta) -> bool:
    """True when the two entries share a digest algorithm and agree on every shared one."""
    shared = [name for name in ("sha256", "sha512") if name in a.hashes and name in b.hashes]
    return bool(shared) and all(a.hashes[name] == b.hashes[name] for name in shared)


def validate_update(
    *,
    gun: str,
    current: Mapping[str, bytes],
    uploads: Mapping[str, bytes],
    now: datetime,
    current_snapshot: Snapshot | None = None,
    parsed: Mapping[str, Any] | None = None,
) -> ValidatedUpdate:
    """Decide whether ``uploads`` is a valid update of the repository ``gun``.

    Args:
        gun: the repository's globally unique name.
        current: the repository's current files by role name (root, targets,
            delegations; snapshot and timestamp are not needed).
        uploads: the uploaded files by role name; a timestamp is ignored, as in Go.
        now: the time to check expiry against.
        current_snapshot: the current snapshot, if any: an uploaded snapshot must
            name the same file for every role not uploaded with it.
        parsed: role → the :func:`~notary_tuf.canonical.parse_json` value of that
            upload, for uploads the caller has parsed already (each file is parsed once).

    Returns:
        What to store, the root in force, and the files the server-generated
        snapshot must record.

    Raises:
        InvalidRoleNameError: an upload is for a name that is not a role.
        BadRootError: the uploaded root is invalid or does not follow the stored one.
        BadTargetsError: an uploaded targets or delegation file is invalid.
        BadSnapshotError: the uploaded snapshot is invalid or does not match.
        ValidationError: no root exists anywhere, or a stored file is unusable.
    """
    for role in uploads:
        if not is_valid_role(role):
            raise InvalidRoleNameError(f"tuf: invalid role {role}.")
    to_store: list[MetaUpdate] = []
    parsed = parsed if parsed is not None else {}

    loader = _load_stored_root(gun, now, current)
    if ROOT in uploads:
        loader, root_update = _root_update(loader, uploads[ROOT], gun=gun, now=now, parsed=parsed)
        to_store.append(root_update)
    if loader.root is None:
        raise ValidationError("no pre-existing root and no root provided in update.")

    targets_roles = sorted(
        (r for r in uploads if r == TARGETS or is_delegation(r)), key=_role_order
    )
    to_store.extend(
        _targets_update(loader, role, uploads[role], current, parsed, uploaded=uploads.keys())
        for role in targets_roles
    )

    snapshot = None
    if SNAPSHOT in uploads:
        snapshot = _snapshot_update(
            loader,
            uploads[SNAPSHOT],
            uploaded=uploads.keys(),
            current_snapshot=current_snapshot,
            parsed=parsed,
        )
        to_store.append(MetaUpdate(role=SNAPSHOT, version=snapshot.version, data=uploads[SNAPSHOT]))
    if TIMESTAMP in uploads:
        logger.debug("ignoring uploaded timestamp for %s: the server always makes its own", gun)
    return ValidatedUpdate(
        updates=tuple(to_store),
        root=loader.root,
        loaded=dict(loader.unchecked),
        snapshot=snapshot,
    )
