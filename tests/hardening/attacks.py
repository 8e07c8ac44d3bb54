"""The attack table: TUF's attack list and the Go notary audit findings, as uploads.

Each :class:`Attack` starts from a repository published through the API
(:func:`published_repo`), may prepare it further (another legitimate publish,
e.g. a root rotation so that a lower root version exists), then builds one
malicious request. The test sends it, expects the status and Notary error code,
checks that the store did not change, and publishes again to show the
repository still works.

Attacks never change the builder's key configuration for good, so the
builder can publish after every one of them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from notary_tuf.generate import sign_metadata
from notary_tuf.models import DelegatedRole, Root, Snapshot, Targets
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Metadata, Signature
from testkit.repo_builder import (
    RepoBuilder,
    SigningKey,
    expired,
    flip_first_sig_byte,
    tamper_signatures,
)
from testkit.server_helpers import AppClient, form, new_builder, tuf_url

GUN = "example.com/hardening/app"
RELEASES = "targets/releases"
INT32_LIMIT = 2**31


@dataclass(frozen=True)
class Sent:
    """What an attack uploads: parts in order (a role may repeat), to ``gun``."""

    parts: Sequence[tuple[str, bytes]]
    gun: str = GUN


Prepare = Callable[[AppClient, RepoBuilder], Awaitable[None]]


@dataclass(frozen=True)
class Attack:
    """One attack and Go notary's answer to it."""

    build: Callable[[RepoBuilder], Sent]
    code: str
    detail_name: str | None = None
    status: int = 400
    prepare: Prepare | None = None
    configure: Callable[[RepoBuilder], None] | None = None


async def post(client: AppClient, sent: Sent) -> aiohttp.ClientResponse:
    return await client.post(tuf_url(sent.gun), data=form(sent.parts))


async def publish(client: AppClient, builder: RepoBuilder, *roles: str) -> dict[str, bytes]:
    """A legitimate publish of ``roles``; asserts 200 and records it in the builder."""
    parts = builder.publish(*roles)
    response = await client.post(tuf_url(builder.gun), data=form(parts.items()))
    assert response.status == 200, await response.text()
    builder.accept(parts)
    return parts


async def assert_still_publishable(client: AppClient, builder: RepoBuilder) -> None:
    """A legitimate publish succeeds and the served chain is the one published."""
    builder.add_target("after-attack", b"still fine\n")
    parts = await publish(client, builder)
    response = await client.get(tuf_url(builder.gun, "targets.json"))
    assert response.status == 200
    assert await response.read() == parts[TARGETS]


async def published_repo(
    client: AppClient, configure: Callable[[RepoBuilder], None] | None = None, gun: str = GUN
) -> RepoBuilder:
    """A repository with root, targets (one target) and a client-held snapshot."""
    builder = await new_builder(client, gun)
    if configure is not None:
        configure(builder)
    builder.add_target("app", b"release 1\n")
    await publish(client, builder)
    return builder


def sign_model(role: str, model: Root | Targets | Snapshot, keys: Sequence[SigningKey]) -> bytes:
    metadata: Metadata[Any] = Metadata.from_signed(role, model)
    return sign_metadata(metadata, {k.key_id: k.private for k in keys}).to_bytes()


def _with_snapshot(b: RepoBuilder, parts: dict[str, bytes]) -> Sent:
    parts[SNAPSHOT] = b.snapshot_file(parts)
    return Sent(list(parts.items()))


def _targets(b: RepoBuilder, **kwargs: Any) -> bytes:
    b.add_target("evil", b"malware\n")
    return b.targets_file(**kwargs)


# ------------------------------------------------------------------ rollback


async def _rotate_root_to_v2(client: AppClient, b: RepoBuilder) -> None:
    parts = {ROOT: b.root_file(version=2)}
    parts[SNAPSHOT] = b.snapshot_file(parts)
    response = await client.post(tuf_url(b.gun), data=form(parts.items()))
    assert response.status == 200, await response.text()
    b.accept(parts)


async def _publish_targets_twice(client: AppClient, b: RepoBuilder) -> None:
    b.add_target("v2", b"2")
    await publish(client, b)


async def _publish_delegation_twice(client: AppClient, b: RepoBuilder) -> None:
    await _add_delegation(client, b)
    b.add_target("rel-2", b"2", RELEASES)
    await publish(client, b, RELEASES)


async def _add_delegation(client: AppClient, b: RepoBuilder) -> None:
    b.delegate(RELEASES, [SigningKey.generate()])
    b.add_target("rel", b"1", RELEASES)
    await publish(client, b, TARGETS, RELEASES)


def _root_same_version(b: RepoBuilder) -> Sent:
    return _with_snapshot(b, {ROOT: b.root_file(version=1)})


def _root_lower_version(b: RepoBuilder) -> Sent:
    return _with_snapshot(b, {ROOT: b.root_file(version=1)})


def _targets_version(delta: int) -> Callable[[RepoBuilder], Sent]:
    def build(b: RepoBuilder) -> Sent:
        version = b.next_version(TARGETS) - 1 + delta
        return _with_snapshot(b, {TARGETS: _targets(b, version=version)})

    return build


def _snapshot_version(delta: int) -> Callable[[RepoBuilder], Sent]:
    def build(b: RepoBuilder) -> Sent:
        targets = _targets(b)
        model = b.snapshot_model({TARGETS: targets})
        model = dataclasses.replace(model, version=model.version - 1 + delta)
        assert b.snapshot_signer is not None
        return Sent(
            [(TARGETS, targets), (SNAPSHOT, sign_model(SNAPSHOT, model, [b.snapshot_signer]))]
        )

    return build


def _delegation_version(delta: int) -> Callable[[RepoBuilder], Sent]:
    def build(b: RepoBuilder) -> Sent:
        b.add_target("evil", b"x", RELEASES)
        version = b.next_version(RELEASES) - 1 + delta
        return _with_snapshot(b, {RELEASES: b.targets_file(RELEASES, version=version)})

    return build


def _snapshot_only_naming_old_targets(b: RepoBuilder) -> Sent:
    # Issue #14 item 2: a newer snapshot alone, naming the bytes of targets v1 again.
    # Go accepts it and then serves targets v1 as the current targets.
    old_targets = b.history[TARGETS][0]
    model = b.snapshot_model({TARGETS: old_targets})
    assert b.snapshot_signer is not None
    return Sent([(SNAPSHOT, sign_model(SNAPSHOT, model, [b.snapshot_signer]))])


def _old_timestamp_only(b: RepoBuilder) -> Sent:
    # A replayed timestamp is ignored: without a snapshot nothing can be stored.
    return Sent([(TIMESTAMP, b.current[SNAPSHOT])])


# ------------------------------------------------------------------ freeze


def _expired_root(b: RepoBuilder) -> Sent:
    return _with_snapshot(b, {ROOT: b.root_file(version=2, expires=expired(b.now))})


def _expired_targets(b: RepoBuilder) -> Sent:
    return _with_snapshot(b, {TARGETS: _targets(b, expires=expired(b.now))})


def _expired_snapshot(b: RepoBuilder) -> Sent:
    targets = _targets(b)
    model = dataclasses.replace(b.snapshot_model({TARGETS: targets}), expires=expired(b.now))
    assert b.snapshot_signer is not None
    return Sent([(TARGETS, targets), (SNAPSHOT, sign_model(SNAPSHOT, model, [b.snapshot_signer]))])


def _expired_delegation(b: RepoBuilder) -> Sent:
    b.add_target("evil", b"x", RELEASES)
    return _with_snapshot(b, {RELEASES: b.targets_file(RELEASES, expires=expired(b.now))})


# ------------------------------------------------------------------ signatures and keys


def _mix_and_match(b: RepoBuilder) -> Sent:
    honest = b.targets_file()
    evil = _targets(b)
    return Sent([(TARGETS, evil), (SNAPSHOT, b.snapshot_file({TARGETS: honest}))])


def _snapshot_missing_targets(b: RepoBuilder) -> Sent:
    targets = _targets(b)
    return Sent([(TARGETS, targets), (SNAPSHOT, b.snapshot_file({}))])


def _bad_signature(b: RepoBuilder) -> Sent:
    return _with_snapshot(b, {TARGETS: tamper_signatures(_targets(b), flip_first_sig_byte)})


def _wrong_key(b: RepoBuilder) -> Sent:
    return _with_snapshot(b, {TARGETS: _targets(b, signers=[SigningKey.generate()])})


def _wrong_method(b: RepoBuilder) -> Sent:
    def change(sig: Signature) -> Signature:
        return Signature(keyid=sig.keyid, method="ed25519", sig=sig.sig)

    return _with_snapshot(b, {TARGETS: tamper_signatures(_targets(b), change)})


def _unsigned(b: RepoBuilder) -> Sent:
    return _with_snapshot(b, {TARGETS: _targets(b, signers=[])})


def _two_targets_keys(b: RepoBuilder) -> None:
    b.targets_keys = [SigningKey.generate(), SigningKey.generate()]
    b.targets_threshold = 2


def _threshold_not_met(b: RepoBuilder) -> Sent:
    return _with_snapshot(b, {TARGETS: _targets(b, signers=b.targets_keys[:1])})


def _duplicate_signature(b: RepoBuilder) -> Sent:
    targets = _targets(b, signers=b.targets_keys[:1])
    doc = json.loads(targets)
    doc["signatures"] = doc["signatures"] * 2  # one key counted twice must not meet 2
    relaid = json.dumps(doc, separators=(",", ":")).encode()
    return _with_snapshot(b, {TARGETS: relaid})


# ------------------------------------------------------------------ root


def _root_not_signed_by_previous(b: RepoBuilder) -> Sent:
    new_key = SigningKey.root(b.gun, now=b.now)
    root = b.root_file(version=2, listed_root_keys=[new_key], signers=[new_key])
    return _with_snapshot(b, {ROOT: root})


def _root_signed_by_previous_only(b: RepoBuilder) -> Sent:
    new_key = SigningKey.root(b.gun, now=b.now)
    root = b.root_file(version=2, listed_root_keys=[new_key], signers=b.root_keys)
    return _with_snapshot(b, {ROOT: root})


def _root_jump(b: RepoBuilder) -> Sent:
    return _with_snapshot(b, {ROOT: b.root_file(version=3)})


def _root_cn_mismatch(b: RepoBuilder) -> Sent:
    other = SigningKey.root("example.com/other/repo", now=b.now)
    root = b.root_file(version=2, listed_root_keys=[other], signers=[*b.root_keys, other])
    return _with_snapshot(b, {ROOT: root})


def _root_expired_cert(b: RepoBuilder) -> Sent:
    old = SigningKey.root(b.gun, now=b.now - timedelta(days=30), lifetime=timedelta(days=1))
    root = b.root_file(version=2, listed_root_keys=[old], signers=[*b.root_keys, old])
    return _with_snapshot(b, {ROOT: root})


def _new_repo_cn_mismatch(b: RepoBuilder) -> Sent:
    gun = GUN + "-cn"
    other = RepoBuilder(gun, timestamp_key=b.timestamp_key)
    other.root_keys = [SigningKey.root(GUN, now=b.now)]  # CN names a different GUN
    other.add_target("x", b"x")
    return Sent(list(other.publish().items()), gun=gun)


# ------------------------------------------------------------------ delegations


def _undeclared(role: str) -> Callable[[RepoBuilder], Sent]:
    """A delegation file signed by a key no parent declares for ``role``."""

    def build(b: RepoBuilder) -> Sent:
        key = SigningKey.generate()
        declared = DelegatedRole(name=role, keyids=(key.key_id,), threshold=1, paths=("",))
        b.delegations[role] = (declared, [key])
        try:
            b.add_target("evil", b"x", role)
            data = b.targets_file(role)
        finally:  # the builder must not declare it in a later legitimate publish
            del b.delegations[role]
            del b.targets[role]
        return _with_snapshot(b, {role: data})

    return build


def _delegation_wrong_key(b: RepoBuilder) -> Sent:
    b.add_target("evil", b"x", RELEASES)
    return _with_snapshot(b, {RELEASES: b.targets_file(RELEASES, signers=[SigningKey.generate()])})


# ------------------------------------------------------------------ role names, versions


def _role_named(name: str) -> Callable[[RepoBuilder], Sent]:
    def build(b: RepoBuilder) -> Sent:
        return Sent([(name, _targets(b)), (SNAPSHOT, b.snapshot_file({}))])

    return build


def _huge_version(role: str, version: int) -> Callable[[RepoBuilder], Sent]:
    def build(b: RepoBuilder) -> Sent:
        if role == ROOT:
            return _with_snapshot(b, {ROOT: b.root_file(version=version)})
        if role == SNAPSHOT:
            targets = _targets(b)
            model = dataclasses.replace(b.snapshot_model({TARGETS: targets}), version=version)
            assert b.snapshot_signer is not None
            snapshot = sign_model(SNAPSHOT, model, [b.snapshot_signer])
            return Sent([(TARGETS, targets), (SNAPSHOT, snapshot)])
        return _with_snapshot(b, {TARGETS: _targets(b, version=version)})

    return build


def _twice_bad_last(b: RepoBuilder) -> Sent:
    good = _targets(b)
    bad = tamper_signatures(good, flip_first_sig_byte)
    return Sent([(TARGETS, good), (TARGETS, bad), (SNAPSHOT, b.snapshot_file({TARGETS: good}))])


ATTACKS: dict[str, Attack] = {
    # rollback (replaying older metadata), equal and lower versions of every role
    "rollback-root-equal": Attack(_root_same_version, "VERSION"),
    "rollback-root-lower": Attack(
        _root_lower_version, "INVALID_UPDATE", "ErrBadRoot", prepare=_rotate_root_to_v2
    ),
    "rollback-targets-equal": Attack(_targets_version(0), "VERSION"),
    "rollback-targets-lower": Attack(
        _targets_version(-1), "VERSION", prepare=_publish_targets_twice
    ),
    "rollback-snapshot-equal": Attack(_snapshot_version(0), "VERSION"),
    "rollback-snapshot-lower": Attack(
        _snapshot_version(-1), "VERSION", prepare=_publish_targets_twice
    ),
    "rollback-delegation-equal": Attack(_delegation_version(0), "VERSION", prepare=_add_delegation),
    "rollback-delegation-lower": Attack(
        _delegation_version(-1), "VERSION", prepare=_publish_delegation_twice
    ),
    "rollback-timestamp-replay": Attack(_old_timestamp_only, "INVALID_UPDATE", "ErrBadHierarchy"),
    # Go accepts this one and serves the old targets afterwards (issue #14 item 2)
    "rollback-snapshot-only-old-targets": Attack(
        _snapshot_only_naming_old_targets,
        "INVALID_UPDATE",
        "ErrBadSnapshot",
        prepare=_publish_targets_twice,
    ),
    # freeze: expired metadata
    "freeze-root": Attack(_expired_root, "INVALID_UPDATE", "ErrBadRoot"),
    "freeze-targets": Attack(_expired_targets, "INVALID_UPDATE", "ErrBadTargets"),
    "freeze-snapshot": Attack(_expired_snapshot, "INVALID_UPDATE", "ErrBadSnapshot"),
    "freeze-delegation": Attack(
        _expired_delegation, "INVALID_UPDATE", "ErrBadTargets", prepare=_add_delegation
    ),
    # mix-and-match
    "mix-and-match": Attack(_mix_and_match, "INVALID_UPDATE", "ErrBadSnapshot"),
    "snapshot-omits-targets": Attack(_snapshot_missing_targets, "INVALID_UPDATE", "ErrBadSnapshot"),
    # signatures, keys, thresholds
    "bad-signature": Attack(_bad_signature, "INVALID_UPDATE", "ErrBadTargets"),
    "wrong-key": Attack(_wrong_key, "INVALID_UPDATE", "ErrBadTargets"),
    "wrong-method": Attack(_wrong_method, "INVALID_UPDATE", "ErrBadTargets"),
    "no-signatures": Attack(_unsigned, "INVALID_UPDATE", "ErrBadTargets"),
    "threshold-not-met": Attack(
        _threshold_not_met, "INVALID_UPDATE", "ErrBadTargets", configure=_two_targets_keys
    ),
    "threshold-duplicate-signature": Attack(
        _duplicate_signature, "INVALID_UPDATE", "ErrBadTargets", configure=_two_targets_keys
    ),
    # root rotation
    "root-not-signed-by-previous": Attack(
        _root_not_signed_by_previous, "INVALID_UPDATE", "ErrBadRoot"
    ),
    "root-not-self-signed": Attack(_root_signed_by_previous_only, "INVALID_UPDATE", "ErrBadRoot"),
    "root-version-jump": Attack(_root_jump, "INVALID_UPDATE", "ErrBadRoot"),
    "root-cn-mismatch": Attack(_root_cn_mismatch, "INVALID_UPDATE", "ErrBadRoot"),
    "root-expired-certificate": Attack(_root_expired_cert, "INVALID_UPDATE", "ErrBadRoot"),
    "new-repo-cn-mismatch": Attack(_new_repo_cn_mismatch, "INVALID_UPDATE", "ErrBadRoot"),
    # delegations
    "delegation-without-parent": Attack(
        _undeclared("targets/ghost"), "INVALID_UPDATE", "ErrBadTargets"
    ),
    "nested-delegation-without-parent": Attack(
        _undeclared("targets/a/b"), "INVALID_UPDATE", "ErrBadTargets", prepare=_add_delegation
    ),
    "delegation-wrong-key": Attack(
        _delegation_wrong_key, "INVALID_UPDATE", "ErrBadTargets", prepare=_add_delegation
    ),
    # role names
    "role-unknown": Attack(_role_named("foo"), "INVALID_ROLE"),
    "role-dotdot": Attack(_role_named("targets/../root"), "INVALID_ROLE"),
    "role-double-slash": Attack(_role_named("targets//x"), "INVALID_ROLE"),
    "role-trailing-slash": Attack(_role_named("targets/x/"), "INVALID_ROLE"),
    "role-dot": Attack(_role_named("targets/./x"), "INVALID_ROLE"),
    "role-uppercase": Attack(_role_named("targets/X"), "INVALID_ROLE"),
    "role-base-uppercase": Attack(_role_named("Targets"), "INVALID_ROLE"),
    "role-256-chars": Attack(_role_named("targets/" + "a" * 248), "INVALID_ROLE"),
    "role-space": Attack(_role_named("targets/a b"), "INVALID_ROLE"),
    "role-percent-encoded": Attack(_role_named("targets%2F..%2Froot"), "INVALID_ROLE"),
    # the same role twice: refused whatever the parts hold (Go keeps the last part; ADR 0020)
    "same-role-twice-bad-last": Attack(_twice_bad_last, "MALFORMED_UPLOAD"),
    # versions that do not fit the 32-bit columns (Cure53 TUF-01-002, NCC 2015 #3; ADR 0006)
    "version-2^31-root": Attack(_huge_version(ROOT, INT32_LIMIT), "INVALID_UPDATE", "ErrBadRoot"),
    "version-2^31-targets": Attack(
        _huge_version(TARGETS, INT32_LIMIT), "INVALID_UPDATE", "ErrBadTargets"
    ),
    "version-2^31-snapshot": Attack(
        _huge_version(SNAPSHOT, INT32_LIMIT), "INVALID_UPDATE", "ErrBadSnapshot"
    ),
    # the largest version that fits: stored, it left no next version (issue #14 item 1, ADR 0023)
    "version-2^31-1-root": Attack(
        _huge_version(ROOT, INT32_LIMIT - 1), "INVALID_UPDATE", "ErrBadRoot"
    ),
    "version-2^31-1-targets": Attack(
        _huge_version(TARGETS, INT32_LIMIT - 1), "INVALID_UPDATE", "ErrBadTargets"
    ),
    "version-2^31-1-snapshot": Attack(
        _huge_version(SNAPSHOT, INT32_LIMIT - 1), "INVALID_UPDATE", "ErrBadSnapshot"
    ),
    "version-2^32-targets": Attack(
        _huge_version(TARGETS, 2**32), "INVALID_UPDATE", "ErrBadTargets"
    ),
    "version-2^63-targets": Attack(
        _huge_version(TARGETS, 2**63 - 1), "INVALID_UPDATE", "ErrBadTargets"
    ),
    "version-negative-targets": Attack(
        _huge_version(TARGETS, -1), "INVALID_UPDATE", "ErrBadTargets"
    ),
}
