"""Fuzzing version extremes (issue #14 item 1): no accepted upload may brick a role.

A seeded generator picks, for one role at a time (root, targets, a delegation,
a client-held snapshot, an uploaded timestamp), a version near every edge that
matters: the 32-bit column limit and just below it, 2^32, 2^53, 2^63, the
repository's timestamp version plus ``MAX_VERSION_LEAD`` and its neighbours,
the stored version and its neighbours, zero and negatives. Each upload is
otherwise valid (correctly signed), so it reaches every version check.

The oracle after every upload: no 5xx; a refusal changes nothing stored; and
the owner's next ordinary publish of every role (each at its stored version
plus one) is accepted. A variant of the brick that gets through fails the
last check at once.
"""

from __future__ import annotations

import dataclasses
import json
import random
from typing import TYPE_CHECKING

from notary_server.services.updates import MAX_VERSION_LEAD
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.validation import MAX_VERSION
from testkit.repo_builder import SigningKey, version_of
from testkit.server_helpers import form, tuf_url
from tests.hardening.attacks import RELEASES, publish, published_repo, sign_model
from tests.hardening.state import report, store_state

if TYPE_CHECKING:
    from notary_server.storage.memory import MemoryMetaStore
    from testkit.repo_builder import RepoBuilder
    from testkit.server_helpers import AppClient

SEED = 20261204
VERSION_INPUTS = 300
GUN = "example.com/fuzz/versions"
ROLES = (ROOT, TARGETS, RELEASES, SNAPSHOT, TIMESTAMP)


def version_extreme(rng: random.Random, stored: int, timestamp: int) -> int:
    """A version near an edge: the column limit, the lead bound, the stored version, zero."""
    lead = timestamp + MAX_VERSION_LEAD
    edges = (
        MAX_VERSION,
        MAX_VERSION - 1,
        MAX_VERSION + 1,
        2**32,
        2**53,
        2**63 - 1,
        lead,
        lead + 1,
        lead - 1,
        stored + 1,
        stored,
        stored - 1,
        stored + 2,
        0,
        -1,
        -(2**31),
    )
    choice = rng.randrange(len(edges) + 2)
    if choice < len(edges):
        return edges[choice]
    if choice == len(edges):
        return rng.randrange(stored + 1, lead + 2)  # anywhere in the allowed jump, or one past it
    return rng.randrange(lead, MAX_VERSION + 2)  # anywhere between the bound and the limit


def upload_at(builder: RepoBuilder, role: str, version: int, index: int) -> list[tuple[str, bytes]]:
    """A correctly signed upload whose ``role`` is at ``version``; other roles as usual."""
    if role == ROOT:
        parts = {ROOT: builder.root_file(version=version)}
    elif role in (TARGETS, RELEASES):
        builder.add_target(f"fuzz-{index}", b"x\n", role)
        parts = {role: builder.targets_file(role, version=version)}
    else:
        builder.add_target(f"fuzz-{index}", b"x\n")
        parts = {TARGETS: builder.targets_file()}
    model = builder.snapshot_model(parts)
    if role == SNAPSHOT:
        model = dataclasses.replace(model, version=version)
    assert builder.snapshot_signer is not None
    parts[SNAPSHOT] = sign_model(SNAPSHOT, model, [builder.snapshot_signer])
    sent = list(parts.items())
    if role == TIMESTAMP:  # ignored by the server, whatever its version
        signed = {"_type": "Timestamp", "version": version, "expires": "2100-01-01T00:00:00Z"}
        sent.append((TIMESTAMP, json.dumps({"signed": signed, "signatures": []}).encode()))
    return sent


async def served_timestamp_version(client: AppClient) -> int:
    response = await client.get(tuf_url(GUN, "timestamp.json"))
    assert response.status == 200
    return version_of(await response.read())


async def test_version_extremes_never_brick_a_role(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    client, store = memory_env
    rng = random.Random(SEED)  # noqa: S311 - seeded: reproducible
    builder = await published_repo(client, gun=GUN)
    builder.delegate(RELEASES, [SigningKey.generate()])
    builder.add_target("rel", b"1\n", RELEASES)
    await publish(client, builder, TARGETS, RELEASES)
    outcomes: dict[str, int] = {}
    for index in range(VERSION_INPUTS):
        role = rng.choice(ROLES)
        held = builder.current.get(role)
        stored = version_of(held) if held is not None else 0
        version = version_extreme(rng, stored, await served_timestamp_version(client))
        sent = upload_at(builder, role, version, index)
        before = await store_state(store)
        response = await client.post(tuf_url(GUN), data=form(sent))
        payload = await response.read()
        assert response.status < 500, (index, role, version, payload[:300])
        if response.status == 200:
            builder.accept(dict(sent))
            outcome = "accepted"
        else:
            assert await store_state(store) == before, (index, role, version)
            outcome = json.loads(payload)["errors"][0]["code"]
        key = f"{role}:{outcome}"
        outcomes[key] = outcomes.get(key, 0) + 1
        # The oracle: every role still takes its next version.
        root_next = {ROOT: builder.root_file()}
        root_next[SNAPSHOT] = builder.snapshot_file(root_next)
        await publish_exactly(client, builder, root_next)
        builder.add_target(f"owner-{index}", b"owner\n")
        builder.add_target(f"owner-{index}", b"owner\n", RELEASES)
        await publish(client, builder, TARGETS, RELEASES)
    report(f"version extremes: {VERSION_INPUTS} uploads, {sorted(outcomes.items())}")
    accepted = sum(n for key, n in outcomes.items() if key.endswith(":accepted"))
    assert 0 < accepted < VERSION_INPUTS


async def publish_exactly(client: AppClient, builder: RepoBuilder, parts: dict[str, bytes]) -> None:
    response = await client.post(tuf_url(builder.gun), data=form(parts.items()))
    assert response.status == 200, await response.text()
    builder.accept(parts)
