"""notary_tuf against metadata the real Go tools wrote.

Vectors come from two places: the Debian ``notary-server`` driven by the Debian
``notary`` CLI through init, publishes, a delegation, and snapshot, timestamp,
targets and root key rotations (the ``reference_vectors`` fixture); and the
static files Go notary ships as compatibility fixtures (notary 0.3 era).

For every file: it parses; it re-serialises byte-identically, both from the
generic ``signed`` value and from the typed model; every key ID recomputes; its
signatures meet the threshold of the role that signs it; and the hashes in
snapshots and timestamps match the files they name.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from notary_tuf.certs import valid_root_leaf_keys
from notary_tuf.errors import NotaryTufError
from notary_tuf.generate import next_snapshot, next_timestamp
from notary_tuf.models import Root, Snapshot, Targets, Timestamp
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP, is_delegation
from notary_tuf.signed import Metadata
from notary_tuf.verify import check_signatures, verify_signatures

if TYPE_CHECKING:
    from testkit.gotools import ReferenceVectors

pytestmark = pytest.mark.gotools

FIXTURES = Path(__file__).parent.parent / "data" / "go_fixtures" / "notary0.3"
FIXTURE_GUN = "docker.com/notary0.3/tst"


def _parse_all(reference_vectors: ReferenceVectors) -> list[tuple[str, Metadata[Any]]]:
    return [
        (v.gun, Metadata.from_bytes(v.role, v.data))
        for v in reference_vectors.vectors
        if v.role in (ROOT, TARGETS, SNAPSHOT, TIMESTAMP) or is_delegation(v.role)
    ]


def _by_role(parsed: list[tuple[str, Metadata[Any]]], gun: str, role: str) -> list[Metadata[Any]]:
    seen: dict[bytes, Metadata[Any]] = {}
    for g, metadata in parsed:
        raw = metadata.envelope.raw
        if g == gun and metadata.role == role and raw is not None:
            seen[raw] = metadata
    return list(seen.values())


@pytest.fixture(scope="module")
def parsed(reference_vectors: ReferenceVectors) -> list[tuple[str, Metadata[Any]]]:
    return _parse_all(reference_vectors)


def test_the_scenario_covered_every_role_kind(reference_vectors: ReferenceVectors) -> None:
    roles = {v.role for v in reference_vectors.vectors}
    assert {ROOT, TARGETS, SNAPSHOT, TIMESTAMP, "targets/releases"} <= roles
    roots = {
        v.version for v in reference_vectors.vectors if v.role == ROOT and v.source == "server"
    }
    assert len(roots) >= 3  # key rotations bumped the root several times


def test_every_file_parses_and_reserialises_byte_identically(
    parsed: list[tuple[str, Metadata[Any]]],
) -> None:
    assert parsed
    for _gun, metadata in parsed:
        raw = metadata.envelope.raw
        assert metadata.to_bytes() == raw, metadata.role
        assert metadata.go_bytes() == raw, metadata.role
        assert metadata.envelope.is_go_layout


def test_every_key_id_recomputes(parsed: list[tuple[str, Metadata[Any]]]) -> None:
    checked = 0
    for _gun, metadata in parsed:
        signed = metadata.signed
        keys = dict(signed.keys) if isinstance(signed, Root) else {}
        if isinstance(signed, Targets) and signed.delegations is not None:
            keys.update(signed.delegations.keys)
        for keyid, key in keys.items():
            assert key.key_id == keyid
            checked += 1
    assert checked > 0


def _trusted_root_keys(root: Metadata[Root], gun: str) -> dict[str, Any]:
    return valid_root_leaf_keys(
        root.signed.keys,
        root.signed.roles[ROOT].keyids,
        gun,
        now=datetime.now(UTC),
        check_expiry=True,
    )


def test_every_root_is_self_signed_and_signed_by_its_predecessor(
    parsed: list[tuple[str, Metadata[Any]]], reference_vectors: ReferenceVectors
) -> None:
    for gun in reference_vectors.scenarios:
        roots = sorted(_by_role(parsed, gun, ROOT), key=lambda m: m.version)
        assert roots, gun
        by_version = {m.version: m for m in roots}
        for root in roots:
            threshold = root.signed.roles[ROOT].threshold
            verify_signatures(root.envelope, _trusted_root_keys(root, gun), threshold, role=ROOT)
            previous = by_version.get(root.version - 1)
            if previous is not None:
                verify_signatures(
                    root.envelope,
                    _trusted_root_keys(previous, gun),
                    previous.signed.roles[ROOT].threshold,
                    role=ROOT,
                )


def test_every_top_level_file_meets_a_root_threshold(
    parsed: list[tuple[str, Metadata[Any]]], reference_vectors: ReferenceVectors
) -> None:
    for gun in reference_vectors.scenarios:
        roots = _by_role(parsed, gun, ROOT)
        for role in (TARGETS, SNAPSHOT, TIMESTAMP):
            files = _by_role(parsed, gun, role)
            assert files, (gun, role)
            for metadata in files:
                results = [
                    check_signatures(
                        metadata.envelope,
                        root.signed.role_keys(role),
                        root.signed.roles[role].threshold,
                        role=role,
                    )
                    for root in roots
                ]
                assert any(r.verified for r in results), (gun, role, metadata.version)


def test_every_delegation_meets_its_parents_threshold(
    parsed: list[tuple[str, Metadata[Any]]], reference_vectors: ReferenceVectors
) -> None:
    checked = 0
    for gun in reference_vectors.scenarios:
        parents = _by_role(parsed, gun, TARGETS)
        for _g, metadata in parsed:
            if _g != gun or not is_delegation(metadata.role):
                continue
            verified = False
            for parent in parents:
                delegations = parent.signed.delegations
                declared = delegations.get(metadata.role) if delegations else None
                if declared is None or delegations is None:
                    continue
                keys = {k: delegations.keys[k] for k in declared.keyids}
                result = check_signatures(
                    metadata.envelope, keys, declared.threshold, role=metadata.role
                )
                verified = verified or result.verified
            assert verified, metadata.role
            checked += 1
    assert checked > 0


def test_snapshot_and_timestamp_hashes_match_the_files_they_name(
    reference_vectors: ReferenceVectors,
) -> None:
    files = {(v.gun, v.sha256): v.data for v in reference_vectors.vectors}
    checked = 0
    for vector in reference_vectors.vectors:
        if vector.role not in (SNAPSHOT, TIMESTAMP) or vector.source != "server":
            continue
        metadata: Metadata[Any] = Metadata.from_bytes(vector.role, vector.data)
        for name, meta in metadata.signed.meta.items():
            target = files.get((vector.gun, meta.sha256_hex))
            if target is None:
                continue  # an older file the walk did not fetch
            meta.check(target, name)
            assert meta.length == len(target)
            checked += 1
    assert checked > 0


def test_our_generation_reproduces_the_go_servers_timestamps(
    parsed: list[tuple[str, Metadata[Any]]], reference_vectors: ReferenceVectors
) -> None:
    now = datetime.now(UTC)
    compared = 0
    for gun in reference_vectors.scenarios:
        timestamps = {m.version: m.signed for m in _by_role(parsed, gun, TIMESTAMP)}
        snapshots = {m.envelope.raw: m for m in _by_role(parsed, gun, SNAPSHOT) if m.envelope.raw}
        for version, timestamp in timestamps.items():
            previous = timestamps.get(version - 1)
            snapshot_sha = timestamp.snapshot_meta.sha256_hex
            snapshot_bytes = next(
                (raw for raw in snapshots if _sha256_hex(raw) == snapshot_sha), None
            )
            if previous is None or snapshot_bytes is None:
                continue
            ours: Timestamp = next_timestamp(previous, snapshot_bytes, now=now)
            assert ours.version == timestamp.version
            assert ours.to_dict()["meta"] == timestamp.to_dict()["meta"]
            compared += 1
    assert compared > 0


def test_our_generation_reproduces_the_go_servers_snapshots(
    parsed: list[tuple[str, Metadata[Any]]], reference_vectors: ReferenceVectors
) -> None:
    """For the server-managed GUN: snapshot N+1 = snapshot N with the changed roles re-hashed."""
    now = datetime.now(UTC)
    compared = 0
    files = {_sha256_hex(m.envelope.raw): m for _g, m in parsed if m.envelope.raw}
    for gun in reference_vectors.scenarios:
        snapshots = {m.version: m.signed for m in _by_role(parsed, gun, SNAPSHOT)}
        for version, snapshot in snapshots.items():
            previous: Snapshot | None = snapshots.get(version - 1)
            if previous is None:
                continue
            changed = {
                name: files[meta.sha256_hex].envelope.raw
                for name, meta in snapshot.meta.items()
                if previous.meta.get(name) != meta and meta.sha256_hex in files
            }
            loaded = {name: raw for name, raw in changed.items() if raw is not None}
            if len(loaded) != len(changed):
                continue
            ours = next_snapshot(previous, loaded, now=now)
            assert ours.version == snapshot.version
            assert ours.to_dict()["meta"] == snapshot.to_dict()["meta"]
            compared += 1
    assert compared > 0


def _sha256_hex(raw: bytes | None) -> str:
    return hashlib.sha256(raw or b"").hexdigest()


# --- The static compatibility fixtures Go notary ships ------------------------


FIXTURE_ROLES = {
    "root.json": ROOT,
    "targets.json": TARGETS,
    "snapshot.json": SNAPSHOT,
    "timestamp.json": TIMESTAMP,
    "targets/releases.json": "targets/releases",
}


@pytest.mark.parametrize(("name", "role"), FIXTURE_ROLES.items(), ids=FIXTURE_ROLES)
def test_go_fixture_roundtrips_byte_identically(name: str, role: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    metadata: Metadata[Any] = Metadata.from_bytes(role, raw)
    assert metadata.to_bytes() == raw
    assert metadata.go_bytes() == raw


def test_go_fixture_signatures_and_hashes_verify() -> None:
    files = {role: (FIXTURES / name).read_bytes() for name, role in FIXTURE_ROLES.items()}
    meta = {role: Metadata.from_bytes(role, raw) for role, raw in files.items()}
    root: Root = meta[ROOT].signed
    # The fixture's root certificate has expired since 2016; expiry is not the point here.
    leaf = valid_root_leaf_keys(
        root.keys, root.roles[ROOT].keyids, FIXTURE_GUN, now=datetime.now(UTC), check_expiry=False
    )
    verify_signatures(meta[ROOT].envelope, leaf, root.roles[ROOT].threshold, role=ROOT)
    for role in (TARGETS, SNAPSHOT, TIMESTAMP):
        verify_signatures(
            meta[role].envelope, root.role_keys(role), root.roles[role].threshold, role=role
        )
    targets: Targets = meta[TARGETS].signed
    assert targets.delegations is not None
    declared = targets.delegations.get("targets/releases")
    assert declared is not None
    keys = {k: targets.delegations.keys[k] for k in declared.keyids}
    verify_signatures(
        meta["targets/releases"].envelope, keys, declared.threshold, role="targets/releases"
    )
    snapshot: Snapshot = meta[SNAPSHOT].signed
    for role in (ROOT, TARGETS, "targets/releases"):
        snapshot.meta[role].check(files[role], role)
    timestamp: Timestamp = meta[TIMESTAMP].signed
    timestamp.snapshot_meta.check(files[SNAPSHOT], SNAPSHOT)


def test_a_flipped_byte_in_a_go_fixture_breaks_verification() -> None:
    raw = (FIXTURES / "targets.json").read_bytes()
    root: Root = Metadata.from_bytes(ROOT, (FIXTURES / "root.json").read_bytes()).signed
    tampered = raw.replace(b'"version":', b'"version":1', 1)
    metadata: Metadata[Any] = Metadata.from_bytes(TARGETS, tampered)
    with pytest.raises(NotaryTufError):
        verify_signatures(
            metadata.envelope, root.role_keys(TARGETS), root.roles[TARGETS].threshold, role=TARGETS
        )
