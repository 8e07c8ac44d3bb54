"""Seeded ``docker trust`` walks: Go's notary-server and ours must answer docker alike.

Each seed is one walk (:func:`tests.differential.docker_steps.generate_walk`) run in
lock-step on both servers; a difference fails with the seed, the step, the commands
to replay and both sides' output. :data:`LAST_SIGNER_WALK` is the walk that caught
our refusal of ``"keyids": null`` (fixed in acc4d66): with ``DOCKER_WALKS_OUR_CODE``
naming an unpacked ``git archive acc4d66^``, it and seeds 0, 4 and 5 fail.
Longer sweeps:
``.venv/bin/python -m tests.differential.docker_walks --walks N --steps M [--seed S]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from testkit.gotools import require_docker_cli, require_go_tools
from tests.differential.docker_outputs import label_inspect, scrub_checksums
from tests.differential.docker_steps import (
    LAST_SIGNER_WALK,
    READ_ONLY_OPS,
    generate_walk,
    tuf_key_id,
    write_foreign_key,
)
from tests.differential.docker_walks import Lockstep, ServerPair

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.gotools

OUR_CODE_ENV = "DOCKER_WALKS_OUR_CODE"
"""Run our server from this directory instead (e.g. a deliberately broken copy)."""
CI_SEEDS = range(8)
CI_STEPS = 14


@pytest.fixture(scope="module")
def lockstep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lockstep]:
    require_go_tools()
    require_docker_cli()
    workdir = tmp_path_factory.mktemp("docker-walks")
    our_code = os.environ.get(OUR_CODE_ENV)
    with ServerPair(workdir, our_code=Path(our_code) if our_code else None) as (go, ours):
        runner = Lockstep(go, ours, workdir)
        yield runner
        runner.pool.shutdown()


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_docker_trust_walk_is_the_same_on_both_servers(lockstep: Lockstep, seed: int) -> None:
    result = lockstep.run_walk(seed, generate_walk(seed, CI_STEPS))
    assert result.steps == CI_STEPS


def test_last_signer_removal_is_the_same_on_both_servers(lockstep: Lockstep) -> None:
    """The walk that empties ``targets/releases`` of keys (docker's last-signer removal)."""
    result = lockstep.run_walk(-1, LAST_SIGNER_WALK)
    assert result.observations == sum(s.op not in READ_ONLY_OPS for s in LAST_SIGNER_WALK)
    assert result.events["signer removed"] == 1


def test_walks_are_a_function_of_the_seed() -> None:
    assert generate_walk(7, 30) == generate_walk(7, 30)
    assert generate_walk(7, 30) != generate_walk(8, 30)
    ops = {step.op for seed in CI_SEEDS for step in generate_walk(seed, CI_STEPS)}
    assert ops >= {
        "keygen", "foreign", "load", "signer_add", "signer_remove",
        "sign", "revoke_tag", "revoke_repo", "inspect", "rotate", "publish",
    }  # fmt: skip


def test_key_labels_come_from_the_walk_keys(tmp_path: Path) -> None:
    write_foreign_key(tmp_path, "f1", 99)
    key_id = tuf_key_id((tmp_path / "f1.pub").read_bytes())
    entries = [
        {
            "Signers": [{"Name": "alice", "Keys": [{"ID": "e" * 64}, {"ID": key_id}]}],
            "AdministrativeKeys": [{"Name": "Root", "Keys": [{"ID": "a" * 64}]}],
        }
    ]
    assert label_inspect(entries, {key_id: "f1"}) == [
        {
            "Signers": [{"Name": "alice", "Keys": ["f1", "key#1"]}],
            "AdministrativeKeys": [{"Name": "Root", "Keys": ["Root"]}],
        }
    ]


def test_cached_file_checksums_are_scrubbed() -> None:
    """Seed 603: both servers fail a pull on a deleted repository, naming different checksums."""
    go_side = "targets/releases." + "917a43ea" * 8 + " trust data unavailable."
    our_side = "targets/releases." + "710a1f51" * 8 + " trust data unavailable."
    assert scrub_checksums(go_side) == scrub_checksums(our_side)
    assert scrub_checksums(go_side) == "targets/releases.<checksum> trust data unavailable."
    digest = "Pull (1 of 1): r/app:v1@sha256:" + "ab" * 32
    assert scrub_checksums(digest) == digest
