"""Mutated uploads judged by Go's notary-server and ours: verdicts must agree.

The sweep (:mod:`tests.differential.uploads`) sends at least :data:`MIN_CASES`
mutated uploads (seed :data:`SEED`) to both servers, each on a fresh GUN in the
same base state, and compares HTTP status and error code.  Every difference
whose mutation kind ``INTENDED_DIFFERENCES`` does not list fails the test, with
all differences grouped in the message.  Control cases (the base upload left as
it is) must be accepted by both, so a broken base state cannot pass as
agreement.  ``test_builder_writes_the_go_client_shapes`` checks that the base
files have the shape and layout the real Go client writes.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from typing import TYPE_CHECKING, Any, Final

import pytest

from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS
from notary_tuf.signed import Metadata
from testkit.gotools import REFERENCE_GUN, ReferenceVectors
from testkit.repo_builder import RepoBuilder, SigningKey
from tests.differential.intended import INTENDED_DIFFERENCES
from tests.differential.mutations import RELEASES, SIGNED, Mutation, Variant
from tests.differential.servers import ServerPair
from tests.differential.uploads import (
    BASES,
    STAGES,
    SWEEP_TIME_LIMIT,
    Case,
    SweepReport,
    build_cases,
    catalog,
    run_sweep,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.gotools

SEED: Final = 20261204
MIN_CASES: Final = 2000
RANDOM_CASES: Final = 1500
"""Cases beyond the catalog: a catalog mutation's field given a seeded random JSON value."""

SWEEP_TIMEOUT: Final = pytest.mark.timeout(SWEEP_TIME_LIMIT + 120)
"""The sweep runs in the setup of whichever of its tests comes first."""

UNCHANGED: Final = Variant("unchanged", lambda current: current)


def control_cases(first_index: int) -> list[Case]:
    """One untouched upload per base and stage (the mutation returns ``signed`` as it is)."""
    return [
        Case(first_index + i, base, stage, Mutation(TARGETS, SIGNED, (), UNCHANGED, "control"))
        for i, (base, stage) in enumerate((b, s) for b in BASES for s in STAGES)
    ]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPair]:
    with ServerPair(tmp_path_factory.mktemp("upload-differential")) as started:
        yield started


@pytest.fixture(scope="module")
def sweep(pair: ServerPair) -> SweepReport:
    cases = build_cases(max(MIN_CASES, len(catalog()) + RANDOM_CASES), SEED)
    report = run_sweep(pair, [*cases, *control_cases(len(cases))])
    sys.stdout.write(report.render() + "\n")  # shown with -s, and in CI logs on failure
    return report


def test_intended_differences_are_explained() -> None:
    kinds = {mutation.kind for _, _, mutation in catalog()}
    # the random#… kinds of a sweep well beyond CI's, so a rare pattern is not called stale
    kinds |= {case.kind for case in build_cases(len(catalog()) + 10 * RANDOM_CASES, SEED)}
    for pattern, row in INTENDED_DIFFERENCES.items():
        assert row.reason.strip(), f"{pattern}: an intended difference needs its reason"
        assert any(fnmatch.fnmatchcase(kind, pattern) for kind in kinds), f"{pattern}: stale"
        if row.detail is not None:
            re.compile(row.detail)


def test_sweep_is_big_and_deterministic() -> None:
    cases = build_cases(MIN_CASES, SEED)
    assert len(cases) == MIN_CASES
    assert [c.kind for c in cases] == [c.kind for c in build_cases(MIN_CASES, SEED)]
    kinds = {mutation.kind.split("=", 1)[0] for _, _, mutation in catalog()}
    for needed in (
        "root:roles.root.threshold",
        "root:keys.$KEY:root.keytype",
        "root:consistent_snapshot",
        "targets:delegations.roles.0.path_hash_prefixes",
        "targets:targets.$TARGET.hashes",
        "snapshot:meta.targets.hashes",
        "delegation:expires",
        "root/envelope:signatures.0.sig",
        "targets/key:<top>",
    ):
        assert needed in kinds, needed


@SWEEP_TIMEOUT
def test_sweep_ran_completely(sweep: SweepReport) -> None:
    assert not sweep.errors, sweep.render()
    assert not sweep.not_run, sweep.render()
    assert not sweep.setup_failures(), sweep.render()
    assert len(sweep.results) >= MIN_CASES


@SWEEP_TIMEOUT
def test_control_uploads_are_accepted_by_both(sweep: SweepReport) -> None:
    controls = [r for r in sweep.results if r.case.mutation.family == "control"]
    assert len(controls) == len(BASES) * len(STAGES)
    for result in controls:
        for side, outcome in result.sides.items():
            assert outcome.verdict.status == 200, (result.case.describe(), side, outcome)
            assert not outcome.broken_hashes, (result.case.describe(), side, outcome)


@SWEEP_TIMEOUT
def test_verdicts_agree_with_go(sweep: SweepReport) -> None:
    assert not sweep.unexplained(), sweep.render()


# ---------------------------------------------------------------------------- base shapes


def shape(value: Any, *, key: str = "") -> Any:
    """The type skeleton of a JSON value; maps keyed by IDs or names collapse to one entry."""
    if isinstance(value, dict):
        if key in {"keys", "targets", "meta"} and value:
            return {"<name>": shape(next(iter(value.values())))}
        return {k: shape(v, key=k) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def _go_file(vectors: ReferenceVectors, role: str, step: str) -> bytes:
    found = [
        v for v in vectors.select(gun=REFERENCE_GUN, role=role, source="server") if v.step == step
    ]
    assert found, (role, step)
    return found[0].data


def _builder_files() -> dict[str, bytes]:
    timestamp = SigningKey.generate().public
    builder = RepoBuilder(gun=REFERENCE_GUN, timestamp_key=timestamp)
    builder.add_target("v1", b"content")
    plain = builder.publish(TARGETS)
    builder.delegate(RELEASES, [SigningKey.generate()])
    builder.add_target("v2", b"more", role=RELEASES)
    delegating = {role: builder.targets_file(role) for role in (TARGETS, RELEASES)}
    return {
        ROOT: plain[ROOT],
        TARGETS: plain[TARGETS],
        SNAPSHOT: plain[SNAPSHOT],
        "delegating-targets": delegating[TARGETS],
        RELEASES: delegating[RELEASES],
    }


def test_builder_writes_the_go_client_shapes(reference_vectors: ReferenceVectors) -> None:
    go = {
        ROOT: _go_file(reference_vectors, ROOT, "init"),
        TARGETS: _go_file(reference_vectors, TARGETS, "add-publish"),
        SNAPSHOT: _go_file(reference_vectors, SNAPSHOT, "add-publish"),
        "delegating-targets": _go_file(reference_vectors, TARGETS, "delegation-add"),
        RELEASES: _go_file(reference_vectors, RELEASES, "delegation-publish"),
    }
    ours = _builder_files()
    for label, go_bytes in go.items():
        role = label if label != "delegating-targets" else TARGETS
        for data in (go_bytes, ours[label]):
            assert Metadata.from_bytes(role, data).envelope.is_go_layout, label
        assert shape(json.loads(ours[label])) == shape(json.loads(go_bytes)), label
