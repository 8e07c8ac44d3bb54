"""Applying an upload: validate, issue snapshot and timestamp, store atomically.

Port of Go ``server/handlers/default.go`` ``atomicUpdateHandler`` (after parsing)
and ``validation.go`` ``generateSnapshot``/``generateTimestamp``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from notary_server.limit_settings import DEFAULT_MAX_TARGETS
from notary_server.services.current import named_checksum, parse_stored
from notary_server.services.isolation import ISOLATE_BYTES, validate_isolated
from notary_server.services.offloop import IN_THREAD_BYTES, parse_off_loop
from notary_server.storage import NotFoundError, StorageError
from notary_server.storage.base import MetaStore
from notary_server.storage.capabilities import BulkReads
from notary_server.trust.base import TrustServiceError
from notary_server.trust.signing import InsufficientSignaturesError, sign_with_role
from notary_tuf.errors import (
    BadHierarchyError,
    BadRootError,
    BadSnapshotError,
    BadTargetsError,
    ValidationError,
)
from notary_tuf.generate import next_snapshot, next_timestamp
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP, is_delegation, parent_role
from notary_tuf.signed import Metadata
from notary_tuf.validation import MetaUpdate, validate_update

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from notary_server.storage.base import Audit, StoredMeta
    from notary_server.trust.base import CryptoService
    from notary_tuf.models import Root, Snapshot, Timestamp

__all__ = ["MAX_VERSION_LEAD", "UpdateStore", "apply_update", "issue_timestamp"]

logger = logging.getLogger(__name__)


class UpdateStore(MetaStore, BulkReads, Protocol):
    """What an update needs: Go's contract, and every current role in one read."""


_NO_SNAPSHOT_KEY = (
    "no snapshot was included in update and server does not hold current snapshot key "
    "for repository"
)
_NO_TIMESTAMP_KEY = "no  timestamp keys exist on the server"  # two spaces: Go's text
# Go answers an unreachable signer with a generic validation error carrying the
# gRPC error text; we keep the error type and leave the internals out.
_TRUST_UNAVAILABLE = "the trust service is unavailable"

VALIDATE_IN_THREAD_BYTES: Final = IN_THREAD_BYTES
"""Uploads larger than this are validated in a worker thread (issue #14 item 7, ADR 0018)."""

MAX_VERSION_LEAD: Final = 1_000_000
"""How far an uploaded version may run ahead of the repository's timestamp version (ADR 0023).

Every accepted publish raises the timestamp version by exactly one, and a Go
client raises a role's version by exactly one when it publishes the role, so no
honestly published role leads its timestamp by more than one. With the lead
bounded, each accepted upload leaves room for the next version, and the 32-bit
version column is reached only after about 2^31 publishes; one upload of
2,147,483,647 used to brick a role for good.
"""


def _roles_to_load(uploads: Mapping[str, bytes]) -> set[str]:
    """The stored files validation may need: root, every uploaded delegation and its ancestors.

    An uploaded delegation's stored version tells which of its targets are old
    (see ``notary_tuf.validation._check_paths``).
    """
    needed = {ROOT}
    for uploaded in uploads:
        if is_delegation(uploaded):
            needed.add(uploaded)
        role = uploaded
        while role != TARGETS and is_delegation(role):
            role = parent_role(role)
            needed.add(role)
    return needed


@dataclass(frozen=True, slots=True)
class _CurrentState:
    """What an update reads from the store, from one consistent pass.

    Attributes:
        timestamp: the current timestamp, or None for a new repository.
        snapshot: the snapshot it names, or None.
        files: the stored bytes of the roles validation needs (root, parents).
        snapshot_data: the snapshot's bytes, or None.
    """

    timestamp: Timestamp | None
    snapshot: Snapshot | None
    files: dict[str, bytes]
    snapshot_data: bytes | None = None


async def _read_current(store: UpdateStore, gun: str, roles: set[str]) -> _CurrentState:
    """Read the current timestamp, the snapshot it names and the ``roles`` that snapshot names.

    The chain is walked as :func:`~notary_server.services.current.get_current`
    walks it, but starts from one read of every role's highest version: each
    file that the chain names by checksum is usually that one, and a file that
    is not (a newer row no snapshot names yet) is then read by its checksum.
    """
    latest = await store.get_current_roles(gun, [TIMESTAMP, SNAPSHOT, *sorted(roles)])
    timestamp_row = latest.get(TIMESTAMP)
    if timestamp_row is None:
        return _CurrentState(timestamp=None, snapshot=None, files={})
    timestamp: Metadata[Timestamp] = parse_stored(TIMESTAMP, timestamp_row)
    try:
        snapshot_row = await _named(store, gun, SNAPSHOT, timestamp, latest)
    except NotFoundError:
        return _CurrentState(timestamp=timestamp.signed, snapshot=None, files={})
    snapshot: Metadata[Snapshot] = parse_stored(SNAPSHOT, snapshot_row)
    files = {}
    for role in roles:
        try:
            files[role] = (await _named(store, gun, role, snapshot, latest)).data
        except NotFoundError:
            continue
    return _CurrentState(
        timestamp=timestamp.signed,
        snapshot=snapshot.signed,
        files=files,
        snapshot_data=snapshot_row.data,
    )


async def _named(
    store: MetaStore,
    gun: str,
    role: str,
    naming: Metadata[Timestamp] | Metadata[Snapshot],
    latest: Mapping[str, StoredMeta],
) -> StoredMeta:
    """The file of ``role`` whose checksum ``naming`` records: the latest row if it matches.

    Raises:
        NotFoundError: ``naming`` records no checksum, or no such file is stored.
    """
    checksum = named_checksum(naming, role)
    row = latest.get(role)
    if row is not None and hashlib.sha256(row.data).hexdigest() == checksum:
        return row
    return await store.get_checksum(gun, role, checksum)


async def _check_version_lead(
    store: MetaStore, gun: str, updates: Sequence[MetaUpdate], current: _CurrentState
) -> None:
    """Refuse an uploaded version too far ahead of the timestamp (see :data:`MAX_VERSION_LEAD`).

    Root is left out: Go's rule (the stored version or one above) already holds
    it. A role stored further ahead than the lead (by Go, or imported) may still
    take exactly its next version, so no stored repository is locked out.

    Raises:
        BadTargetsError, BadSnapshotError: the version leads by too much.
    """
    timestamp_version = current.timestamp.version if current.timestamp is not None else 0
    ceiling = timestamp_version + MAX_VERSION_LEAD
    for update in updates:
        if update.role == ROOT or update.version <= ceiling:
            continue
        stored = await _stored_version(store, gun, update.role, current)
        if stored is not None and update.version == stored + 1:
            continue
        error = BadSnapshotError if update.role == SNAPSHOT else BadTargetsError
        raise error(
            f"{update.role} version {update.version} is more than {MAX_VERSION_LEAD} above "
            f"the repository's timestamp version {timestamp_version}; the next version of "
            f"{update.role} is {stored + 1 if stored is not None else 1}"
        )


async def _stored_version(
    store: MetaStore, gun: str, role: str, current: _CurrentState
) -> int | None:
    """The highest stored version of ``role``, or None (read only for an upload far ahead)."""
    if role == SNAPSHOT:
        return current.snapshot.version if current.snapshot is not None else None
    try:
        row = await store.get_current(gun, role)
    except NotFoundError:
        return None
    try:
        return (await parse_off_loop(role, row)).version
    except StorageError:
        return None


async def _issue_snapshot(
    *,
    crypto: CryptoService,
    gun: str,
    root: Root,
    previous: Snapshot | None,
    loaded: Mapping[str, bytes],
    now: datetime,
) -> MetaUpdate:
    return await _sign_server_role(
        crypto=crypto,
        gun=gun,
        root=root,
        unsigned=Metadata.from_signed(SNAPSHOT, next_snapshot(previous, loaded, now=now)),
        missing_key=BadHierarchyError(SNAPSHOT, _NO_SNAPSHOT_KEY),
    )


async def issue_timestamp(
    *,
    crypto: CryptoService,
    gun: str,
    root: Root,
    previous: Timestamp | None,
    snapshot: bytes,
    now: datetime,
) -> MetaUpdate:
    """Make and sign the timestamp naming ``snapshot``, one version above ``previous``.

    ``previous`` is the stored timestamp (None: the repository has none yet).

    Raises:
        BadRootError: the trust service holds none of the root's timestamp keys.
        ValidationError: the trust service is unreachable, or the timestamp
            version cannot grow any further.
    """
    return await _sign_server_role(
        crypto=crypto,
        gun=gun,
        root=root,
        unsigned=Metadata.from_signed(TIMESTAMP, next_timestamp(previous, snapshot, now=now)),
        missing_key=BadRootError(_NO_TIMESTAMP_KEY),
    )


async def _sign_server_role(
    *,
    crypto: CryptoService,
    gun: str,
    root: Root,
    unsigned: Metadata[Any],
    missing_key: ValidationError,
) -> MetaUpdate:
    """Sign a server-made snapshot or timestamp with the root's keys for its role.

    Raises:
        ValidationError: ``missing_key`` when the trust service holds too few of
            the role's keys (Go's error differs by role); a generic one when the
            trust service is unreachable.
    """
    role = unsigned.role
    try:
        signed = await sign_with_role(
            crypto, unsigned, root.role_keys(role), root.roles[role].threshold
        )
    except InsufficientSignaturesError as e:
        logger.info("cannot sign %s for %s: %s", role, gun, e)
        raise missing_key from e
    except TrustServiceError as e:
        logger.warning("cannot sign %s for %s: %s", role, gun, e)
        raise ValidationError(_TRUST_UNAVAILABLE) from e
    return MetaUpdate(role=role, version=signed.version, data=signed.to_bytes())


async def apply_update(
    *,
    store: UpdateStore,
    crypto: CryptoService,
    gun: str,
    uploads: Mapping[str, bytes],
    now: datetime,
    audit: Audit | None = None,
    parsed: Mapping[str, Any] | None = None,
    max_targets_per_file: int = DEFAULT_MAX_TARGETS,
) -> list[MetaUpdate]:
    """Validate an upload and store it with a new snapshot (if server-managed) and timestamp.

    Args:
        store: the metadata store.
        crypto: the trust service holding the timestamp (and maybe snapshot) keys.
        gun: the repository.
        uploads: role name → uploaded bytes (an uploaded timestamp is ignored).
        now: the time of the update.
        audit: who asked, recorded with the changefeed record.
        parsed: role → the parsed JSON of uploads already parsed (the HTTP
            handler parses each part as it reads it): nothing is parsed twice.
        max_targets_per_file: the limit the child process checks for an upload
            larger than :data:`~notary_server.services.isolation.ISOLATE_BYTES`,
            which is parsed and validated there (ADR 0028).

    Returns:
        Everything stored, in order.

    Raises:
        ValidationError: the upload is invalid (any of Go's five validation types).
        OldVersionError: a version is not newer than what is stored.
        StorageError: the store failed.
    """
    current = await _read_current(store, gun, _roles_to_load(uploads))
    size = sum(map(len, uploads.values()))
    if size > ISOLATE_BYTES:
        validated = await validate_isolated(
            gun=gun,
            current=current.files,
            uploads=uploads,
            now=now,
            current_snapshot=current.snapshot_data,
            max_targets=max_targets_per_file,
        )
    else:
        validate = functools.partial(
            validate_update,
            gun=gun,
            current=current.files,
            uploads=uploads,
            now=now,
            current_snapshot=current.snapshot,
            parsed=parsed,
        )
        validated = (
            await asyncio.to_thread(validate) if size > VALIDATE_IN_THREAD_BYTES else validate()
        )
    await _check_version_lead(store, gun, validated.updates, current)
    updates = list(validated.updates)
    if SNAPSHOT in uploads:  # validated: the client's snapshot is stored as uploaded
        snapshot = uploads[SNAPSHOT]
    else:
        issued = await _issue_snapshot(
            crypto=crypto,
            gun=gun,
            root=validated.root.signed,
            previous=current.snapshot,
            loaded=validated.loaded,
            now=now,
        )
        updates.append(issued)
        snapshot = issued.data
    updates.append(
        await issue_timestamp(
            crypto=crypto,
            gun=gun,
            root=validated.root.signed,
            snapshot=snapshot,
            now=now,
            previous=current.timestamp,
        )
    )
    await store.update_many(gun, updates, audit=audit)
    timestamp = updates[-1]
    logger.info("updated %s: timestamp version %d", gun, timestamp.version)
    return updates
