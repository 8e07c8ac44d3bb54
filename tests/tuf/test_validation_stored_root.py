"""The stored root's check is remembered by (GUN, bytes) and never hides a failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notary_tuf.errors import ValidationError
from notary_tuf.rolenames import ROOT, TARGETS
from notary_tuf.validation import _checked_stored_root, validate_update
from testkit.repo_builder import (
    RepoBuilder,
    SigningKey,
    flip_first_sig_byte,
    tamper_signatures,
)


def _repo(gun: str) -> RepoBuilder:
    builder = RepoBuilder(
        gun=gun,
        timestamp_key=SigningKey.generate().public,
        snapshot_key=SigningKey.generate().public,
    )
    builder.accept(builder.publish())  # root and targets v1 are "stored"
    return builder


def _update(builder: RepoBuilder, stored_root: bytes, *, now: datetime | None = None) -> None:
    builder.add_target(f"t{builder.next_version(TARGETS)}", b"content")
    validate_update(
        gun=builder.gun,
        current={ROOT: stored_root, TARGETS: builder.current[TARGETS]},
        uploads={TARGETS: builder.targets_file()},
        now=now or datetime.now(UTC),
    )


def test_the_same_stored_root_is_checked_once() -> None:
    builder = _repo("example.com/stored-root/once")
    stored = builder.current[ROOT]
    _checked_stored_root.cache_clear()
    for _ in range(3):
        _update(builder, stored)
    info = _checked_stored_root.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    # Equal bytes read again from a database are a new object: still one check.
    _update(builder, bytes(bytearray(stored)))
    assert _checked_stored_root.cache_info().hits == 3


def test_the_remembered_check_does_not_depend_on_the_time() -> None:
    builder = _repo("example.com/stored-root/time")
    stored = builder.current[ROOT]
    _checked_stored_root.cache_clear()
    _update(builder, stored)
    # Years after its own and its certificate's expiry, a stored root still
    # loads (Go: the previous root is trusted as stored); only uploads expire.
    later = datetime.now(UTC) + timedelta(days=365 * 30)
    builder.now = later
    _update(builder, stored, now=later)


def test_a_bad_stored_root_fails_every_time() -> None:
    builder = _repo("example.com/stored-root/bad")
    broken = tamper_signatures(builder.current[ROOT], flip_first_sig_byte)
    _checked_stored_root.cache_clear()
    for _ in range(2):
        with pytest.raises(ValidationError, match="stored root could not be loaded"):
            _update(builder, broken)
    assert _checked_stored_root.cache_info().currsize == 0


def test_a_root_remembered_for_one_gun_is_checked_again_for_another() -> None:
    builder = _repo("example.com/stored-root/mine")
    stored = builder.current[ROOT]
    _update(builder, stored)
    other = _repo("example.com/stored-root/other")
    # The same bytes stored under another GUN: its certificate's CN does not match.
    with pytest.raises(ValidationError, match="stored root could not be loaded"):
        _update(other, stored)
