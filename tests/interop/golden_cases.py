"""The golden table: upload cases built on a real Go server, with Go's verdicts.

Each case's ``prepare`` builds a state on a fresh GUN of the Go server (its setup
uploads must succeed) and returns the upload to judge.  ``go`` is what the Go
server answers; ``ours`` (default: the same) what ``validate_update`` plus the
emulated server-side steps must answer, with ``why_different`` citing the
deliberate difference documented in ``notary_tuf/validation.py``.  ``emulated``
names the server-side check outside ``validate_update`` that decides the row.
Used by ``test_validation_golden.py``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Signature
from testkit.gotools import GoNotaryServer
from testkit.repo_builder import (
    RepoBuilder,
    SigningKey,
    expired,
    fetch_server_key,
    flip_first_sig_byte,
    sign_signed,
    tamper_signatures,
)

RELEASES = "targets/releases"
MAX_GO_SAFE_VERSION = 2**31 - 1


@dataclass(frozen=True)
class Verdict:
    """An upload's outcome: HTTP status, error code and ``INVALID_UPDATE`` detail Name."""

    status: int
    code: str | None = None
    name: str | None = None

    def __str__(self) -> str:
        return " ".join(str(p) for p in (self.status, self.code, self.name) if p is not None)


OK = Verdict(200)


def invalid(name: str | None) -> Verdict:
    return Verdict(400, "INVALID_UPDATE", name)


@dataclass
class Prepared:
    """The state a case built on the Go server, and the upload to judge."""

    gun: str
    parts: dict[str, bytes]
    held_key_ids: set[str] = field(default_factory=set)  # keys the Go server holds for the GUN


@dataclass(frozen=True)
class Case:
    """One row of the golden table."""

    id: str
    prepare: Callable[[GoNotaryServer], Prepared]
    go: Verdict
    ours: Verdict | None = None  # None: same as ``go``
    why_different: str = ""
    code_only: bool = False
    emulated: str = ""  # which server-side check outside validate_update decides it

    @property
    def expected_ours(self) -> Verdict:
        return self.go if self.ours is None else self.ours


# --------------------------------------------------------------------------- setup helpers


def new_gun(label: str) -> str:
    return f"example.com/golden/{label}-{secrets.token_hex(4)}"


def upload_ok(server: GoNotaryServer, builder: RepoBuilder, parts: dict[str, bytes]) -> None:
    response = server.upload(builder.gun, parts)
    assert response.status == 200, f"setup upload refused: {response.body!r}"
    builder.accept(parts)


def start(
    server: GoNotaryServer,
    label: str,
    *,
    publish: bool = True,
    server_snapshot: bool = False,
    root_key: Callable[[str], SigningKey] | None = None,
) -> tuple[RepoBuilder, set[str]]:
    """A builder on a fresh GUN with one target; published (v1 of each role) by default.

    ``root_key`` makes the root key for the GUN (default: a 10-year certificate, CN = GUN).
    """
    gun = new_gun(label)
    timestamp_key = fetch_server_key(server, gun, TIMESTAMP)
    held = {timestamp_key.key_id}
    snapshot_key = fetch_server_key(server, gun, SNAPSHOT) if server_snapshot else None
    if snapshot_key is not None:
        held.add(snapshot_key.key_id)
    builder = RepoBuilder(
        gun,
        timestamp_key=timestamp_key,
        snapshot_key=snapshot_key,
        root_keys=[root_key(gun)] if root_key else [],
    )
    builder.add_target("base", b"the first target\n" * 3)
    if publish:
        upload_ok(server, builder, builder.publish())
    return builder, held


def resnapshot(builder: RepoBuilder, parts: dict[str, bytes]) -> dict[str, bytes]:
    """``parts`` with the snapshot rebuilt over its (possibly tampered) files."""
    files = {role: data for role, data in parts.items() if role != SNAPSHOT}
    return {**files, SNAPSHOT: builder.snapshot_file(files)}


def second_publish_with_targets(builder: RepoBuilder, targets: bytes) -> dict[str, bytes]:
    return resnapshot(builder, {TARGETS: targets})


# --------------------------------------------------------------------------- cases


def valid_first_publish(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "first", publish=False)
    return Prepared(builder.gun, builder.publish(), held)


def valid_second_publish(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "second")
    builder.add_target("more", b"another target\n")
    return Prepared(builder.gun, builder.publish(), held)


def valid_delegation(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "delegation-ok", publish=False)
    builder.delegate(RELEASES, [SigningKey.generate()])
    builder.add_target("rel", b"delegated\n", role=RELEASES)
    return Prepared(builder.gun, builder.publish(TARGETS, RELEASES), held)


def valid_server_snapshot(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "server-snapshot", publish=False, server_snapshot=True)
    return Prepared(builder.gun, builder.publish(), held)


def client_timestamp_ignored(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "client-timestamp", publish=False)
    parts = builder.publish()
    stamp = {
        "_type": "Timestamp",
        "version": 7,
        "expires": "2030-01-01T00:00:00Z",
        "meta": {},
    }
    parts[TIMESTAMP] = sign_signed(stamp, [SigningKey.generate()])
    return Prepared(builder.gun, parts, held)


def tampered_targets_signature(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "tampered-sig")
    builder.add_target("more", b"another target\n")
    targets = tamper_signatures(builder.targets_file(), flip_first_sig_byte)
    return Prepared(builder.gun, second_publish_with_targets(builder, targets), held)


def targets_wrong_key(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "wrong-key")
    builder.add_target("more", b"another target\n")
    targets = builder.targets_file(signers=[SigningKey.generate()])
    return Prepared(builder.gun, second_publish_with_targets(builder, targets), held)


def wrong_method(method: str) -> Callable[[GoNotaryServer], Prepared]:
    def prepare(server: GoNotaryServer) -> Prepared:
        builder, held = start(server, f"method-{method}")
        builder.add_target("more", b"another target\n")
        targets = tamper_signatures(
            builder.targets_file(),
            lambda sig: Signature(keyid=sig.keyid, method=method, sig=sig.sig),
        )
        return Prepared(builder.gun, second_publish_with_targets(builder, targets), held)

    return prepare


def threshold_two_one_signature(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "threshold", publish=False)
    builder.targets_keys = [SigningKey.generate(), SigningKey.generate()]
    builder.targets_threshold = 2
    parts = builder.publish()
    parts[TARGETS] = builder.targets_file(signers=builder.targets_keys[:1])
    return Prepared(builder.gun, resnapshot(builder, parts), held)


def expired_targets(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "expired-targets")
    targets = builder.targets_file(expires=expired(datetime.now(UTC)))
    return Prepared(builder.gun, second_publish_with_targets(builder, targets), held)


def expired_root(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "expired-root", publish=False)
    parts = builder.publish()
    parts[ROOT] = builder.root_file(expires=expired(datetime.now(UTC)))
    return Prepared(builder.gun, resnapshot(builder, parts), held)


def root_cn_mismatch(server: GoNotaryServer) -> Prepared:
    builder, held = start(
        server, "cn-mismatch", publish=False, root_key=lambda gun: SigningKey.root(f"{gun}-other")
    )
    return Prepared(builder.gun, builder.publish(), held)


def root_version_jump(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "root-jump")
    root = builder.root_file(version=3)
    return Prepared(builder.gun, resnapshot(builder, {ROOT: root}), held)


def root_not_signed_by_previous(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "root-unlinked")
    builder.root_keys = [SigningKey.root(builder.gun)]
    root = builder.root_file()  # v2, signed by the new key only
    return Prepared(builder.gun, resnapshot(builder, {ROOT: root}), held)


def valid_root_rotation(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "root-rotation")
    old = builder.root_keys
    builder.root_keys = [SigningKey.root(builder.gun)]
    root = builder.root_file(signers=[*old, *builder.root_keys])
    return Prepared(builder.gun, resnapshot(builder, {ROOT: root}), held)


def snapshot_hash_mismatch(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "snapshot-mismatch")
    builder.add_target("more", b"another target\n")
    targets = builder.targets_file()
    stale = builder.snapshot_file({})  # still names targets v1
    return Prepared(builder.gun, {TARGETS: targets, SNAPSHOT: stale}, held)


def undeclared_delegation(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "undeclared")
    builder.delegate(RELEASES, [SigningKey.generate()])  # in the builder only; targets v1 lacks it
    builder.add_target("rel", b"delegated\n", role=RELEASES)
    return Prepared(
        builder.gun, resnapshot(builder, {RELEASES: builder.targets_file(RELEASES)}), held
    )


def wrong_type(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "wrong-type")
    signed = builder.targets_model(version=2).to_dict()
    signed["_type"] = "Snapshot"
    targets = sign_signed(signed, builder.targets_keys)
    return Prepared(builder.gun, second_publish_with_targets(builder, targets), held)


def no_root_new_repo(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "no-root", publish=False)
    return Prepared(builder.gun, {TARGETS: builder.targets_file()}, held)


def unknown_role(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "unknown-role")
    return Prepared(builder.gun, {"foo": builder.targets_file()}, held)


def missing_snapshot_client_key(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "no-snapshot")
    builder.add_target("more", b"another target\n")
    return Prepared(builder.gun, {TARGETS: builder.targets_file()}, held)


def foreign_timestamp_key(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "foreign-timestamp", publish=False)
    builder.timestamp_key = SigningKey.generate().public
    return Prepared(builder.gun, builder.publish(), held)


def old_version(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "old-version")
    builder.add_target("more", b"another target\n")
    targets = builder.targets_file(version=1)  # same version as stored, new content
    return Prepared(builder.gun, second_publish_with_targets(builder, targets), held)


def version_beyond_int32(server: GoNotaryServer) -> Prepared:
    builder, held = start(server, "huge-version")
    targets = builder.targets_file(version=MAX_GO_SAFE_VERSION + 1)
    return Prepared(builder.gun, second_publish_with_targets(builder, targets), held)


ROOT_CERT_SECONDS = 3


def stored_root_cert_expired(server: GoNotaryServer) -> Prepared:
    lifetime = timedelta(seconds=ROOT_CERT_SECONDS)
    builder, held = start(
        server, "expired-cert", root_key=lambda gun: SigningKey.root(gun, lifetime=lifetime)
    )
    time.sleep(ROOT_CERT_SECONDS + 1.5)  # bounded: the stored root's certificate has expired
    builder.add_target("more", b"another target\n")
    return Prepared(builder.gun, builder.publish(), held)


DIFF_CERT_EXPIRY = (
    "validation.py docstring, difference 1: the stored root's certificates are not "
    "checked for expiry when it is the trust anchor of an update (Go's detail is null: "
    "its error is not a validation error)"
)
DIFF_MAX_VERSION = (
    "validation.py docstring, difference 3: versions above 2,147,483,647 are refused "
    "(Go stores them; Cure53 TUF-01-002)"
)

CASES = [
    Case("valid-first-publish", valid_first_publish, OK),
    Case("valid-second-publish", valid_second_publish, OK),
    Case("valid-delegation", valid_delegation, OK),
    Case("valid-root-rotation", valid_root_rotation, OK),
    Case("client-timestamp-ignored", client_timestamp_ignored, OK),
    Case("valid-server-snapshot", valid_server_snapshot, OK, emulated="server holds snapshot key"),
    Case("tampered-targets-signature", tampered_targets_signature, invalid("ErrBadTargets")),
    Case("targets-wrong-key", targets_wrong_key, invalid("ErrBadTargets")),
    Case("method-rsapss-on-ecdsa", wrong_method("rsapss"), invalid("ErrBadTargets")),
    Case("method-unknown", wrong_method("ecdsa-sha1"), invalid("ErrBadTargets")),
    Case("threshold-2-one-signature", threshold_two_one_signature, invalid("ErrBadTargets")),
    Case("expired-targets", expired_targets, invalid("ErrBadTargets")),
    Case("expired-root", expired_root, invalid("ErrBadRoot")),
    Case("root-cn-not-gun", root_cn_mismatch, invalid("ErrBadRoot")),
    Case("root-version-jump-1-to-3", root_version_jump, invalid("ErrBadRoot")),
    Case("root-not-signed-by-previous", root_not_signed_by_previous, invalid("ErrBadRoot")),
    Case("snapshot-names-old-targets", snapshot_hash_mismatch, invalid("ErrBadSnapshot")),
    Case("undeclared-delegation", undeclared_delegation, invalid("ErrBadTargets")),
    Case("targets-wrong-type", wrong_type, invalid("ErrBadTargets")),
    Case("no-root-new-repo", no_root_new_repo, invalid("ErrValidation")),
    Case("unknown-role-foo", unknown_role, Verdict(400, "INVALID_ROLE"), code_only=True),
    Case(
        "no-snapshot-client-held-key",
        missing_snapshot_client_key,
        invalid("ErrBadHierarchy"),
        emulated="server holds no snapshot key -> ErrBadHierarchy",
    ),
    Case(
        "timestamp-key-not-servers",
        foreign_timestamp_key,
        invalid("ErrBadRoot"),
        emulated="server holds no timestamp key -> ErrBadRoot",
    ),
    Case(
        "targets-same-version",
        old_version,
        Verdict(400, "VERSION"),
        emulated="storage: version must grow",
    ),
    Case(
        "targets-version-2^31",
        version_beyond_int32,
        OK,
        ours=invalid("ErrBadTargets"),
        why_different=DIFF_MAX_VERSION,
    ),
    Case(
        "stored-root-cert-expired",
        stored_root_cert_expired,
        invalid(None),
        ours=OK,
        why_different=DIFF_CERT_EXPIRY,
    ),
]
