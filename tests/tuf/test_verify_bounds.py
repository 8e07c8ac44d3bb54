"""Signature checks cost at most a few verifications per role key (issue #14 item 7).

Go verifies every signature in a file; a 10 MiB root with 60,000 signatures that
all name the root key kept a worker busy for seconds. The checks here count the
verifications with a spy instead of timing anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import notary_tuf.verify
from notary_tuf.canonical import canonical_bytes
from notary_tuf.crypto import verify_signature
from notary_tuf.signed import Envelope, Signature
from notary_tuf.verify import ATTEMPTS_PER_KEY, check_signatures, verify_signatures
from testkit.repo_builder import SigningKey

if TYPE_CHECKING:
    from notary_tuf.keys import PublicKey

SIGNED: dict[str, Any] = {"_type": "Targets", "version": 1}
MESSAGE = canonical_bytes(SIGNED)


def _envelope(signatures: list[Signature]) -> Envelope:
    return Envelope(signed=SIGNED, signatures=tuple(signatures), canonical=MESSAGE)


def _good(key: SigningKey) -> Signature:
    return Signature(keyid=key.key_id, method=key.private.method, sig=key.private.sign(MESSAGE))


def _bad(key: SigningKey) -> Signature:
    return Signature(keyid=key.key_id, method=key.private.method, sig=b"\x01" * 64)


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The key IDs of every signature verification attempted."""
    calls: list[str] = []
    real = verify_signature

    def spy(key: PublicKey, method: str, message: bytes, sig: bytes) -> None:
        calls.append(key.key_id)
        real(key, method, message, sig)

    monkeypatch.setattr(notary_tuf.verify, "verify_signature", spy)
    return calls


def test_thousands_of_bad_signatures_by_one_key_cost_a_few_checks(
    verifications: list[str],
) -> None:
    key = SigningKey.generate()
    envelope = _envelope([_bad(key)] * 5_000 + [_good(key)])

    result = check_signatures(envelope, {key.key_id: key.public}, 1, role="targets")

    assert not result.verified  # the good one comes after the attempts are used up
    assert len(verifications) == ATTEMPTS_PER_KEY


def test_a_key_already_counted_is_not_checked_again(verifications: list[str]) -> None:
    key = SigningKey.generate()
    envelope = _envelope([_good(key)] * 1_000)

    result = verify_signatures(envelope, {key.key_id: key.public}, 1, role="targets")

    assert result.signed == {key.key_id}
    assert verifications == [key.key_id]


def test_a_good_signature_after_a_stale_one_still_counts(verifications: list[str]) -> None:
    # A re-signed file that kept an old signature of the same key, as Go accepts.
    one, two = SigningKey.generate(), SigningKey.generate()
    keys = {one.key_id: one.public, two.key_id: two.public}
    envelope = _envelope([_bad(one), _good(one), _good(two)])

    result = verify_signatures(envelope, keys, 2, role="targets")

    assert result.signed == set(keys)
    assert len(verifications) == 3


def test_signatures_by_keys_outside_the_role_cost_nothing(verifications: list[str]) -> None:
    key, stranger = SigningKey.generate(), SigningKey.generate()
    envelope = _envelope([_good(stranger)] * 2_000 + [_good(key)])

    verify_signatures(envelope, {key.key_id: key.public}, 1, role="targets")

    assert verifications == [key.key_id]
