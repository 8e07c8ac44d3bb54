"""Building the snapshot and timestamp the server issues, and signing metadata.

Ports the generation half of Go ``tuf/builder.go`` (``GenerateSnapshot``,
``GenerateTimestamp``) and ``tuf/tuf.go`` (``SignSnapshot``, ``SignTimestamp``).
Generation is pure; signing with a remote signer is the caller's business: sign
``Metadata.envelope.canonical`` and attach the result with
``Metadata.with_signatures``. :func:`sign_metadata` does it for keys in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final, TypeVar

from notary_tuf.crypto import PrivateKey
from notary_tuf.errors import ValidationError
from notary_tuf.gotime import GoTime, format_go_time
from notary_tuf.keys import signature_method_for
from notary_tuf.models import FileMeta, Root, Snapshot, Targets, Timestamp
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Metadata, Signature

__all__ = [
    "DEFAULT_EXPIRY",
    "expires_after",
    "next_snapshot",
    "next_timestamp",
    "sign_metadata",
]

_YEAR: Final = timedelta(days=365)
DEFAULT_EXPIRY: Final = {
    ROOT: 10 * _YEAR,
    TARGETS: 3 * _YEAR,
    SNAPSHOT: 3 * _YEAR,
    TIMESTAMP: timedelta(days=14),
}
"""Notary's default lifetimes per role (Go ``NotaryDefaultExpiries``)."""

_MAX_VERSION: Final = 2**31 - 1
M = TypeVar("M", Root, Targets, Snapshot, Timestamp)


def expires_after(now: datetime, role: str) -> GoTime:
    """Return the ``expires`` of a ``role`` file made at ``now``."""
    lifetime = DEFAULT_EXPIRY[TARGETS if role.startswith(TARGETS) else role]
    return GoTime.parse(format_go_time(now + lifetime))


def _next_version(previous: int) -> int:
    if previous >= _MAX_VERSION:
        raise ValidationError(f"version {previous} cannot be incremented any further")
    return previous + 1


def next_snapshot(
    previous: Snapshot | None, loaded: Mapping[str, bytes], *, now: datetime
) -> Snapshot:
    """Return the snapshot the server issues after an update.

    Meta entries are recomputed for every file in ``loaded`` (root and the
    targets/delegation files loaded during validation) over their exact bytes;
    the other entries of ``previous`` carry over unchanged.

    Args:
        previous: the current snapshot, or None for a new repository.
        loaded: role name → bytes of the files to record.
        now: the time of issue.

    Raises:
        ValidationError: there is no previous snapshot and root or targets is
            not in ``loaded``, or the version cannot grow any further.
    """
    if previous is None:
        for role in (ROOT, TARGETS):
            if role not in loaded:
                raise ValidationError(f"tuf: {role} must be loaded first")
    meta = dict(previous.meta) if previous is not None else {}
    meta.update({role: FileMeta.for_bytes(data) for role, data in loaded.items()})
    return Snapshot(
        version=_next_version(previous.version if previous is not None else 0),
        expires=expires_after(now, SNAPSHOT),
        meta=meta,
    )


def next_timestamp(
    previous: Timestamp | None, snapshot_bytes: bytes, *, now: datetime
) -> Timestamp:
    """Return the timestamp the server issues for the snapshot ``snapshot_bytes``.

    Raises:
        ValidationError: the version cannot grow any further.
    """
    meta = dict(previous.meta) if previous is not None else {}
    meta[SNAPSHOT] = FileMeta.for_bytes(snapshot_bytes)
    return Timestamp(
        version=_next_version(previous.version if previous is not None else 0),
        expires=expires_after(now, TIMESTAMP),
        meta=meta,
    )


def sign_metadata(metadata: Metadata[M], signers: Mapping[str, PrivateKey]) -> Metadata[M]:
    """Sign ``metadata`` with each key, replacing any signatures it had.

    Args:
        metadata: the file to sign.
        signers: key ID (as listed in the role) → private key. For a root
            certificate key that is the ID of the certificate key, not of the
            bare public key.

    Returns:
        A copy carrying one signature per key, in the order given.
    """
    message = metadata.envelope.canonical
    signatures = [
        Signature(
            keyid=keyid,
            method=signature_method_for(key.public_key.keytype),
            sig=key.sign(message),
        )
        for keyid, key in signers.items()
    ]
    return metadata.with_signatures(signatures)
