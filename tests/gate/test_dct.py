"""The DCT verifier and its TUF client, on trust data signed in process (issue #16)."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

import pytest

from notary_gate.dct import DCTVerifier
from notary_gate.policy import EnforceRule
from notary_gate.tuf_client import TUFClient
from notary_gate.verifier import ManifestRef, Verdict
from notary_tuf.rolenames import ROOT, TARGETS
from testkit.repo_builder import SigningKey
from tests.gate.trust_repos import EXPIRED_TIMESTAMP_AT, TrustServer, manifest_bytes

GUN = "registry.example.com/prod/app"
RULE = EnforceRule(prefix="registry.example.com/prod/")
RELEASES = "targets/releases"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def ref(reference: str, manifest: bytes) -> ManifestRef:
    return ManifestRef(
        repository="prod/app",
        gun=GUN,
        reference=reference,
        digest="sha256:" + hashlib.sha256(manifest).hexdigest(),
        length=len(manifest),
    )


def make_verifier(server: TrustServer, **kwargs: object) -> tuple[DCTVerifier, FakeClock]:
    clock = FakeClock()
    verifier = DCTVerifier(TUFClient(server.fetch), monotonic=clock, **kwargs)  # type: ignore[arg-type]
    return verifier, clock


async def judge(
    verifier: DCTVerifier, reference: str, manifest: bytes, rule: EnforceRule = RULE
) -> Verdict:
    return await verifier.verify(ref(reference, manifest), rule)


@pytest.fixture
def server() -> TrustServer:
    return TrustServer()


async def test_signed_tag_is_allowed(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish()
    verdict = await judge(make_verifier(server)[0], "v1", manifest_bytes("a"))
    assert verdict.allowed, verdict
    assert verdict.reason == "signed"
    assert verdict.detail["role"] == TARGETS


async def test_unsigned_tag_is_denied(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish()
    verdict = await judge(make_verifier(server)[0], "v2", manifest_bytes("a"))
    assert not verdict.allowed
    assert verdict.reason == "unsigned"
    assert verdict.message == (
        f"content trust: {GUN}:v2 is not signed: no signed tag 'v2' in targets/releases or targets"
    )


async def test_repository_without_trust_data_is_denied(server: TrustServer) -> None:
    verdict = await judge(make_verifier(server)[0], "v1", manifest_bytes("a"))
    assert (verdict.allowed, verdict.reason) == (False, "unsigned")
    assert "there is no trust data for" in verdict.message


async def test_digest_mismatch_is_denied(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish()
    verdict = await judge(make_verifier(server)[0], "v1", manifest_bytes("b"))
    assert (verdict.allowed, verdict.reason) == (False, "digest_mismatch")
    signed = "sha256:" + hashlib.sha256(manifest_bytes("a")).hexdigest()
    assert verdict.detail["signed_digest"] == signed
    assert "but the registry serves sha256:" in verdict.message


async def test_by_digest_of_a_signed_target_is_allowed(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish()
    verifier = make_verifier(server)[0]
    digest = "sha256:" + hashlib.sha256(manifest_bytes("a")).hexdigest()
    verdict = await judge(verifier, digest, manifest_bytes("a"))
    assert verdict.allowed, verdict
    assert verdict.detail["tag"] == "v1"
    other = "sha256:" + hashlib.sha256(manifest_bytes("b")).hexdigest()
    denied = await judge(verifier, other, manifest_bytes("b"))
    assert (denied.allowed, denied.reason) == (False, "unsigned")


async def test_expired_timestamp_is_denied(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish(timestamp_at=datetime.now(UTC) - EXPIRED_TIMESTAMP_AT)
    verdict = await judge(make_verifier(server)[0], "v1", manifest_bytes("a"))
    assert (verdict.allowed, verdict.reason) == (False, "expired")
    assert "timestamp expired at" in verdict.message


async def test_releases_takes_precedence_over_targets(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.builder.delegate(RELEASES, [SigningKey.generate()])
    repo.sign_tag("v1", manifest_bytes("release"), RELEASES)
    repo.sign_tag("v1", manifest_bytes("targets"))
    repo.publish(TARGETS, RELEASES)
    verifier = make_verifier(server)[0]
    allowed = await judge(verifier, "v1", manifest_bytes("release"))
    assert allowed.allowed, allowed
    assert allowed.detail["role"] == RELEASES
    denied = await judge(verifier, "v1", manifest_bytes("targets"))
    assert (denied.allowed, denied.reason) == (False, "digest_mismatch")
    # A rule trusting only "targets" resolves the tag there instead.
    only_targets = EnforceRule(prefix=RULE.prefix, roles=(TARGETS,))
    assert (await judge(verifier, "v1", manifest_bytes("targets"), only_targets)).allowed


async def test_only_releases_rule_ignores_targets(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.builder.delegate(RELEASES, [SigningKey.generate()])
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish(TARGETS, RELEASES)
    only_releases = EnforceRule(prefix=RULE.prefix, roles=(RELEASES,))
    verdict = await judge(make_verifier(server)[0], "v1", manifest_bytes("a"), only_releases)
    assert (verdict.allowed, verdict.reason) == (False, "unsigned")


async def test_delegation_outside_its_paths_does_not_count(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.builder.delegate(RELEASES, [SigningKey.generate()], paths=["stable-"])
    repo.sign_tag("v1", manifest_bytes("a"), RELEASES)
    repo.sign_tag("stable-1", manifest_bytes("b"), RELEASES)
    repo.publish(TARGETS, RELEASES)
    verifier = make_verifier(server)[0]
    assert (await judge(verifier, "v1", manifest_bytes("a"))).reason == "unsigned"
    assert (await judge(verifier, "stable-1", manifest_bytes("b"))).allowed


async def test_named_key_ids_restrict_the_signers(server: TrustServer) -> None:
    repo = server.add(GUN)
    release_key = SigningKey.generate()
    repo.builder.delegate(RELEASES, [release_key])
    repo.sign_tag("v1", manifest_bytes("a"), RELEASES)
    repo.sign_tag("v2", manifest_bytes("b"))
    repo.publish(TARGETS, RELEASES)
    rule = EnforceRule(prefix=RULE.prefix, key_ids=frozenset({release_key.key_id}))
    verifier = make_verifier(server)[0]
    assert (await judge(verifier, "v1", manifest_bytes("a"), rule)).allowed
    denied = await judge(verifier, "v2", manifest_bytes("b"), rule)
    assert (denied.allowed, denied.reason) == (False, "signer_not_allowed")


async def test_root_rotation_is_followed(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish()
    verifier, clock = make_verifier(server, max_age=5)
    assert (await judge(verifier, "v1", manifest_bytes("a"))).allowed
    repo.rotate_root()
    repo.rotate_root()  # two rotations: 1 -> 2 -> 3, each signed by the one before
    repo.sign_tag("v2", manifest_bytes("b"))
    repo.publish()
    clock.now += 10
    verdict = await judge(verifier, "v2", manifest_bytes("b"))
    assert verdict.allowed, verdict
    assert (GUN, f"2.{ROOT}") in server.requests


async def test_root_rotation_not_signed_by_the_old_key_is_refused(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish()
    verifier, clock = make_verifier(server, max_age=5)
    assert (await judge(verifier, "v1", manifest_bytes("a"))).allowed
    # An attacker's root: new key only, not countersigned by the trusted one.
    repo.builder.root_keys = [SigningKey.root(GUN)]
    repo.builder.accept({ROOT: repo.builder.root_file()})
    repo.publish()
    clock.now += 10
    verdict = await judge(verifier, "v1", manifest_bytes("a"))
    assert (verdict.allowed, verdict.reason) == (False, "invalid_trust_data")


async def test_pinned_root_key_must_match(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish()
    wrong = DCTVerifier(TUFClient(server.fetch, pinned_root_keys={GUN: frozenset({"0" * 64})}))
    verdict = await wrong.verify(ref("v1", manifest_bytes("a")), RULE)
    assert (verdict.allowed, verdict.reason) == (False, "invalid_trust_data")
    assert "pinned" in verdict.message
    key_id = repo.builder.root_keys[0].key_id
    right = DCTVerifier(TUFClient(server.fetch, pinned_root_keys={GUN: frozenset({key_id})}))
    assert (await right.verify(ref("v1", manifest_bytes("a")), RULE)).allowed


async def test_revocation_takes_effect_after_max_age(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish()
    verifier, clock = make_verifier(server, max_age=30)
    assert (await judge(verifier, "v1", manifest_bytes("a"))).allowed
    loads = len(server.requests)
    repo.remove_tag("v1")
    repo.publish()
    clock.now += 29
    assert (await judge(verifier, "v1", manifest_bytes("a"))).allowed  # cached
    assert len(server.requests) == loads
    clock.now += 2
    assert (await judge(verifier, "v1", manifest_bytes("a"))).reason == "unsigned"


async def test_trust_server_down_fails_closed_or_open(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish()
    server.down = True
    closed = await judge(make_verifier(server)[0], "v1", manifest_bytes("a"))
    assert (closed.allowed, closed.reason) == (False, "trust_server_unavailable")
    assert "the trust server is unavailable (connection refused)" in closed.message
    opened = await judge(make_verifier(server, fail_open=True)[0], "v1", manifest_bytes("a"))
    assert (opened.allowed, opened.reason) == (True, "trust_server_unavailable")


async def test_timestamp_rollback_is_refused(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish()
    old_timestamp = repo.files["timestamp"]
    repo.publish()
    verifier, clock = make_verifier(server, max_age=1)
    assert (await judge(verifier, "v1", manifest_bytes("a"))).allowed
    repo.files["timestamp"] = old_timestamp
    clock.now += 2
    verdict = await judge(verifier, "v1", manifest_bytes("a"))
    assert (verdict.allowed, verdict.reason) == (False, "invalid_trust_data")
    assert "older than version" in verdict.message


async def test_tampered_targets_are_refused(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish()
    name = next(n for n in repo.files if n.startswith("targets."))
    repo.files[name] = repo.files[name].replace(b'"version":1', b'"version":7')
    verdict = await judge(make_verifier(server)[0], "v1", manifest_bytes("a"))
    assert (verdict.allowed, verdict.reason) == (False, "invalid_trust_data")


async def test_bad_trust_data_is_refused_without_reloading(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish(timestamp_at=datetime.now(UTC) - EXPIRED_TIMESTAMP_AT)
    verifier, clock = make_verifier(server, max_age=30)
    assert (await judge(verifier, "v1", manifest_bytes("a"))).reason == "expired"
    loads = len(server.requests)
    assert (await judge(verifier, "v1", manifest_bytes("a"))).reason == "expired"
    assert len(server.requests) == loads
    repo.publish()  # the server re-signs the timestamp
    clock.now += 31
    assert (await judge(verifier, "v1", manifest_bytes("a"))).allowed


async def test_concurrent_requests_share_one_load(server: TrustServer) -> None:
    repo = server.add(GUN)
    repo.sign_tag("v1", manifest_bytes("a"))
    repo.publish()
    verifier = make_verifier(server)[0]
    verdicts = await asyncio.gather(
        *(judge(verifier, "v1", manifest_bytes("a")) for _ in range(10))
    )
    assert all(v.allowed for v in verdicts)
    assert [name for _, name in server.requests].count("timestamp") == 1
