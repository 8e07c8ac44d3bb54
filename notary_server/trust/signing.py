"""Signing server-issued metadata through a trust service (Go ``signed.Sign``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from notary_server.trust.base import KeyNotFoundError
from notary_tuf.errors import CertificateError, ValidationError
from notary_tuf.keys import signature_method_for
from notary_tuf.models import Root, Snapshot, Targets, Timestamp
from notary_tuf.signed import Metadata, Signature

if TYPE_CHECKING:
    from collections.abc import Mapping

    from notary_server.trust.base import CryptoService
    from notary_tuf.keys import PublicKey

__all__ = ["InsufficientSignaturesError", "sign_with_role"]

M = TypeVar("M", Root, Targets, Snapshot, Timestamp)


class InsufficientSignaturesError(Exception):
    """The trust service holds fewer of the role's keys than its threshold.

    Attributes:
        held: how many of the role's keys could sign.
        threshold: how many were needed.
    """

    def __init__(self, role: str, held: int, threshold: int) -> None:
        """Create the error for ``role``."""
        super().__init__(f"{role}: the server holds {held} of the {threshold} keys needed")
        self.held = held
        self.threshold = threshold


async def sign_with_role(
    crypto: CryptoService,
    metadata: Metadata[M],
    keys: Mapping[str, PublicKey],
    threshold: int,
) -> Metadata[M]:
    """Sign ``metadata`` with every key of the role the trust service holds.

    Keys are looked up by their canonical ID; the signature ``method`` follows
    the key type, as Go's server writes it.

    Args:
        crypto: the trust service.
        metadata: the unsigned (or previously signed) file.
        keys: the role's keys by the IDs the role lists.
        threshold: how many signatures are needed.

    Returns:
        A copy carrying only the new signatures.

    Raises:
        InsufficientSignaturesError: fewer than ``threshold`` keys are held.
        ValidationError: a key labelled x509 holds no certificate.
        TrustServiceError: the trust service failed.
    """
    message = metadata.envelope.canonical
    signatures = []
    for keyid, key in keys.items():
        try:
            canonical_id = key.canonical_key_id
        except CertificateError as e:
            # A root may label any key as x509 (Go: 400 ErrValidation from CanonicalKeyID).
            raise ValidationError(f"{metadata.role} key {keyid}: {e}") from e
        try:
            sig = await crypto.sign(canonical_id, message)
        except KeyNotFoundError:
            continue
        signatures.append(Signature(keyid=keyid, method=signature_method_for(key.keytype), sig=sig))
    if not signatures or len(signatures) < threshold:
        raise InsufficientSignaturesError(metadata.role, len(signatures), threshold)
    return metadata.with_signatures(signatures)
