"""``verify_repository`` and ``plan_import`` on repositories built in memory.

Expired snapshots and timestamps (a source nobody looked after) import with a
warning; a broken chain or snapshot is refused; re-running an import stores
only what is new and never touches a repository already handed over.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from notary_server.services.importer import (
    FetchedRepository,
    ImportState,
    RepositoryImportError,
    StoredRole,
    plan_import,
    verify_repository,
)
from notary_tuf.generate import next_timestamp, sign_metadata
from notary_tuf.models import Timestamp
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Metadata
from testkit.repo_builder import RepoBuilder, SigningKey

NOW = datetime.now(UTC)
GUN = "example.com/import/unit"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _repository(
    *, snapshot_at: datetime = NOW, timestamp_at: datetime = NOW, rotations: int = 0
) -> FetchedRepository:
    stamp_key = SigningKey.generate()
    builder = RepoBuilder(GUN, timestamp_key=stamp_key.public, now=NOW)
    roots = {1: builder.root_file(version=1)}
    for version in range(2, rotations + 2):
        old = builder.root_keys
        builder.root_keys = [SigningKey.root(GUN, now=NOW)]
        roots[version] = builder.root_file(version=version, signers=[*old, *builder.root_keys])
    targets = builder.targets_file(version=1)
    builder.now = snapshot_at
    snapshot = builder.snapshot_file({ROOT: roots[max(roots)], TARGETS: targets})
    model: Timestamp = next_timestamp(None, snapshot, now=timestamp_at)
    signed = sign_metadata(
        Metadata.from_signed(TIMESTAMP, model), {stamp_key.key_id: stamp_key.private}
    )
    return FetchedRepository(
        gun=GUN,
        roots=roots,
        files={TARGETS: targets, SNAPSHOT: snapshot},
        timestamp=signed.to_bytes(),
    )


def test_expired_snapshot_and_timestamp_import_with_a_warning() -> None:
    long_ago = NOW - timedelta(days=3 * 365 + 30)
    verified = verify_repository(
        _repository(snapshot_at=long_ago, timestamp_at=long_ago, rotations=3), now=NOW
    )
    assert [(u.role, u.version) for u in verified.updates] == [
        (ROOT, 1),
        (ROOT, 2),
        (ROOT, 3),
        (ROOT, 4),
        (TARGETS, 1),
        (SNAPSHOT, 1),
        (TIMESTAMP, 1),
    ]
    assert len(verified.warnings) == 2
    assert verified.warnings[0].startswith("the snapshot expired at")
    assert verified.warnings[1].startswith("the timestamp expired at")


def test_a_root_not_signed_by_its_predecessor_is_refused() -> None:
    fetched = _repository(rotations=2)
    other = _repository(rotations=2)
    fetched.roots[2] = other.roots[2]
    with pytest.raises(RepositoryImportError, match="root v2"):
        verify_repository(fetched, now=NOW)


def test_a_snapshot_that_does_not_match_the_targets_is_refused() -> None:
    fetched = _repository()
    fetched.files[TARGETS] = _repository().files[TARGETS]
    with pytest.raises(RepositoryImportError, match="verification failed"):
        verify_repository(fetched, now=NOW)


def _stored(verified_updates: list[tuple[str, int, bytes]]) -> dict[str, StoredRole]:
    roles: dict[str, dict[int, str]] = {}
    for role, version, data in verified_updates:
        roles.setdefault(role, {})[version] = _sha256(data)
    return {role: StoredRole(max(v), v) for role, v in roles.items()}


def test_plan_import_new_same_behind_handed_over_and_diverged() -> None:
    first = verify_repository(_repository(rotations=1), now=NOW)
    stamp = first.updates[-1].data
    new = plan_import(first, {}, stored_timestamp=None, sha256=_sha256)
    assert new.state is ImportState.NEW
    assert new.updates == first.updates
    held = _stored([(u.role, u.version, u.data) for u in first.updates])

    same = plan_import(first, held, stored_timestamp=stamp, sha256=_sha256)
    assert (same.state, same.updates) == (ImportState.SAME, [])

    older = dict(held)
    older[TIMESTAMP] = StoredRole(0, {0: "0" * 64})
    behind = plan_import(first, older, stored_timestamp=b"an older timestamp", sha256=_sha256)
    assert behind.state is ImportState.BEHIND
    assert [(u.role, u.version) for u in behind.updates] == [(TIMESTAMP, 1)]

    handed = dict(held)
    handed[ROOT] = StoredRole(3, {**held[ROOT].sha256, 3: "f" * 64})
    over = plan_import(first, handed, stored_timestamp=b"ours", sha256=_sha256)
    assert (over.state, over.updates) == (ImportState.HANDED_OVER, [])

    diverged = dict(held)
    diverged[TARGETS] = StoredRole(1, {1: "e" * 64})
    with pytest.raises(RepositoryImportError, match="targets v1 here differs"):
        plan_import(first, diverged, stored_timestamp=b"other", sha256=_sha256)
