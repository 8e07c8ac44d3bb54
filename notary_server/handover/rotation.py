"""The hand-over root: the owner's root, one version on, naming the new server's keys.

Pure functions: which of the owner's keys sign the current root, and the root
that follows it. The root and targets keys stay as they are, so every client
that trusted the old root accepts the new one (signed by the old root's
threshold and, the keys being the same, by its own); only the snapshot and
timestamp keys change to the ones this server holds, so it signs a fresh
snapshot and timestamp from now on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization

from notary_tuf.certs import load_certificate_bundle
from notary_tuf.errors import CertificateError, NotaryTufError
from notary_tuf.generate import expires_after, sign_metadata
from notary_tuf.models import RoleKeys, Root
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Metadata
from notary_tuf.validation import validate_update
from notary_tuf.verify import verify_signatures

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime

    from notary_tuf.crypto import PrivateKey
    from notary_tuf.keys import PublicKey

__all__ = [
    "HandoverError",
    "already_handed_over",
    "check_server_root_is_current",
    "handed_over_root",
    "match_root_keys",
]


class HandoverError(Exception):
    """The hand-over cannot be done (the message says why and what to do)."""


def _public_spki(key: PublicKey) -> bytes | None:
    """The SubjectPublicKeyInfo of a root key's certificate, None if it has none."""
    try:
        certificate = load_certificate_bundle(key.public)[0]
    except (CertificateError, IndexError):
        return None
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _private_spki(key: PrivateKey) -> bytes:
    return key.cryptography_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def match_root_keys(root: Root, candidates: Iterable[PrivateKey]) -> dict[str, PrivateKey]:
    """The root key IDs (as ``root`` lists them) of the private keys given."""
    wanted = {
        keyid: spki
        for keyid in root.roles[ROOT].keyids
        if keyid in root.keys and (spki := _public_spki(root.keys[keyid])) is not None
    }
    matched: dict[str, PrivateKey] = {}
    for private in candidates:
        spki = _private_spki(private)
        matched.update((keyid, private) for keyid, want in wanted.items() if want == spki)
    return matched


def check_server_root_is_current(gun: str, served: bytes, trusted: Iterable[bytes]) -> None:
    """Refuse to build on a root older than, or different from, one the owner already trusts.

    ``trusted`` are the root files the owner's trust directories cached from the
    old server. If the new server holds an older version (the repository changed
    on the old server after the import), the next version built on it would
    clash with the one clients already trust.

    Raises:
        HandoverError: a trusted root is newer than the served one, or has the
            same version and other bytes.
    """
    served_version = _version(served)
    for data in trusted:
        version = _version(data)
        if version > served_version or (version == served_version and data != served):
            raise HandoverError(
                f"{gun}: this server holds root v{served_version}, but your trust directory "
                f"trusts {'another ' if version == served_version else ''}root v{version}: the "
                "repository changed on the old server since the import; import it again "
                "(admin import), then hand it over"
            )


def _version(data: bytes) -> int:
    try:
        return Metadata.from_bytes(ROOT, data).version
    except NotaryTufError as e:
        raise HandoverError(f"a root file does not parse: {e}") from e


def already_handed_over(root: Root, snapshot: PublicKey, timestamp: PublicKey) -> bool:
    """True when ``root`` already names exactly these snapshot and timestamp keys."""
    return root.roles[SNAPSHOT].keyids == (snapshot.key_id,) and root.roles[TIMESTAMP].keyids == (
        timestamp.key_id,
    )


def handed_over_root(
    gun: str,
    current: bytes,
    signers: Mapping[str, PrivateKey],
    *,
    snapshot: PublicKey,
    timestamp: PublicKey,
    now: datetime,
) -> Metadata[Root]:
    """Build and sign the next root, checked as the server will check it.

    Args:
        gun: the repository.
        current: the root the server serves now.
        signers: root key ID → private key (from :func:`match_root_keys`).
        snapshot: the server's snapshot key for ``gun``.
        timestamp: the server's timestamp key for ``gun``.
        now: the time of signing; the new root expires ten years later (Go's default).

    Raises:
        HandoverError: the keys given do not meet the root threshold, the current
            root is not signed by them, or the result would not be accepted.
    """
    try:
        old: Metadata[Root] = Metadata.from_bytes(ROOT, current)
        threshold = old.signed.roles[ROOT].threshold
        if len(signers) < threshold:
            raise HandoverError(f"{gun}: root needs {threshold} root key(s); {len(signers)} found")
        # The server's root must be the owner's: signed by the keys the owner holds.
        verify_signatures(
            old.envelope,
            {keyid: old.signed.keys[keyid] for keyid in signers},
            threshold,
            role=ROOT,
        )
        keys = dict(old.signed.keys)
        keep = set(old.signed.roles[ROOT].keyids) | set(old.signed.roles[TARGETS].keyids)
        for role in (SNAPSHOT, TIMESTAMP):
            for keyid in old.signed.roles[role].keyids:
                if keyid not in keep:
                    keys.pop(keyid, None)
        keys[snapshot.key_id] = snapshot
        keys[timestamp.key_id] = timestamp
        roles = dict(old.signed.roles)
        roles[SNAPSHOT] = RoleKeys(keyids=(snapshot.key_id,), threshold=1)
        roles[TIMESTAMP] = RoleKeys(keyids=(timestamp.key_id,), threshold=1)
        new_root = Root(
            version=old.signed.version + 1,
            expires=expires_after(now, ROOT),
            keys=keys,
            roles=roles,
            consistent_snapshot=old.signed.consistent_snapshot,
            unrecognized=old.signed.unrecognized,
        )
        signed = sign_metadata(Metadata.from_signed(ROOT, new_root), signers)
        uploads = {ROOT: signed.to_bytes()}
        validate_update(gun=gun, current={ROOT: current}, uploads=uploads, now=now)
    except NotaryTufError as e:
        raise HandoverError(f"{gun}: {e}") from e
    return signed
