"""Threshold signature checks, expiry and version checks (port of Go ``tuf/signed/verify.go``).

The message is the canonical form of the *generic* ``signed`` value, as Go
builds it when verifying: never the raw bytes and never a typed re-serialisation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from notary_tuf.crypto import verify_signature
from notary_tuf.errors import (
    ExpiredError,
    KeyFormatError,
    KeyIDMismatchError,
    LowVersionError,
    NoSignaturesError,
    SignatureError,
    ThresholdError,
)
from notary_tuf.keys import PublicKey
from notary_tuf.signed import Envelope, RoleModel

__all__ = [
    "VerificationResult",
    "check_signatures",
    "verify_expiry",
    "verify_signatures",
    "verify_version",
]

logger = logging.getLogger(__name__)

ATTEMPTS_PER_KEY: Final = 4
"""Signatures naming one key that are checked at most (issue #14 item 7).

Go checks every signature, so a file carrying 60,000 signatures that all name a
role key costs 60,000 verifications. A client writes one signature per key; a
few attempts per key leave room for a re-signed file that kept an old signature.
"""


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """Which of a role's keys produced a valid signature.

    Attributes:
        role: the role checked.
        threshold: the number of distinct valid signatures required.
        signed: key IDs of the role with at least one valid signature.
        unsigned: key IDs of the role without one.
    """

    role: str
    threshold: int
    signed: frozenset[str]
    unsigned: frozenset[str]

    @property
    def verified(self) -> bool:
        """True when the threshold is met."""
        return len(self.signed) >= self.threshold


def check_signatures(
    envelope: Envelope, keys: Mapping[str, PublicKey], threshold: int, *, role: str
) -> VerificationResult:
    """Count the distinct keys of a role that validly signed ``envelope``.

    Signatures by keys outside ``keys`` and signatures that do not verify are
    skipped, as in Go. Unlike Go, a key already counted is not checked again and
    a key is tried at most :data:`ATTEMPTS_PER_KEY` times, so the work is bounded
    by the role's keys, not by the number of signatures in the file.

    Args:
        envelope: the parsed file.
        keys: key ID → key of the role.
        threshold: the role's threshold.
        role: the role name, for messages.

    Returns:
        The result, whether or not the threshold is met.

    Raises:
        NoSignaturesError: the file has no signatures.
        ThresholdError: ``threshold`` is below 1.
        KeyIDMismatchError: a role key's computed ID is not the ID it is listed
            under (Go aborts the whole check for this).
    """
    if not envelope.signatures:
        raise NoSignaturesError(f"tuf: {role} has no signatures")
    if threshold < 1:
        raise ThresholdError(f"tuf: invalid threshold {threshold} for {role}")
    valid: set[str] = set()
    attempts: dict[str, int] = {}
    for signature in envelope.signatures:
        key = keys.get(signature.keyid)
        if key is None or signature.keyid in valid:
            continue
        if key.key_id != signature.keyid:
            raise KeyIDMismatchError(f"tuf: key ID {signature.keyid} does not match its key")
        tried = attempts.get(signature.keyid, 0)
        if tried >= ATTEMPTS_PER_KEY:
            continue
        attempts[signature.keyid] = tried + 1
        try:
            verify_signature(key, signature.method, envelope.canonical, signature.sig)
        except (SignatureError, KeyFormatError) as e:
            # Go counts any verifier failure, unparseable key included, as invalid.
            logger.debug("skipping signature by %s on %s: %s", signature.keyid, role, e)
            continue
        valid.add(signature.keyid)
    return VerificationResult(
        role=role,
        threshold=threshold,
        signed=frozenset(valid),
        unsigned=frozenset(keys) - valid,
    )


def verify_signatures(
    envelope: Envelope, keys: Mapping[str, PublicKey], threshold: int, *, role: str
) -> VerificationResult:
    """Like :func:`check_signatures`, but fail when the threshold is not met.

    Raises:
        ThresholdError: fewer distinct valid signatures than ``threshold``.
        NoSignaturesError: see :func:`check_signatures`.
        KeyIDMismatchError: see :func:`check_signatures`.
    """
    result = check_signatures(envelope, keys, threshold, role=role)
    if not result.verified:
        raise ThresholdError(f"valid signatures did not meet threshold for {role}")
    return result


def verify_expiry(signed: RoleModel, *, now: datetime, role: str) -> None:
    """Fail when ``signed`` expired before ``now`` (no grace period, as in Go).

    Raises:
        ExpiredError: the metadata has expired.
    """
    if signed.expires.is_expired(now):
        raise ExpiredError(f"{role} expired at {signed.expires.text}")


def verify_version(signed: RoleModel, *, min_version: int, role: str) -> None:
    """Fail when ``signed.version`` is below ``min_version``.

    Raises:
        LowVersionError: the version is too low.
    """
    if signed.version < min_version:
        raise LowVersionError(
            f"{role}: version {signed.version} is lower than current version {min_version}"
        )
