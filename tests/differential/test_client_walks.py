"""Seeded client walks of the real ``notary`` CLI: Go's notary-server and ours must agree.

Every seed in :data:`CI_SEEDS` is one walk of :data:`CI_STEPS` steps on its own GUN,
all on one server pair (:mod:`tests.differential.servers`); the walks selected in a
run are played once, :data:`JOBS` at a time, by a module fixture, and each test
reports its walk: the first difference, both sides' output and a replay script.

Replay one seed with ``pytest tests/differential/test_client_walks.py -k 'seed-7'``;
sweep more with ``python -m tests.differential.walks --walks 200 --seed 1000``. Set
``CLIENT_WALKS_OUR_CODE`` to run our server from another copy of the packages.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.differential.lockstep import Difference, LockStep
from tests.differential.material import Material
from tests.differential.model import OWNER, Op
from tests.differential.observe import delegation_rows, label_keys, target_rows
from tests.differential.servers import ServerPair
from tests.differential.walks import WalkOutcome, run_walks

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.differential, pytest.mark.gotools]

CI_SEEDS = range(30)
CI_STEPS = 50
JOBS = 2
OUR_CODE_ENV = "CLIENT_WALKS_OUR_CODE"

MUST_SUCCEED = (
    "init",
    "add",
    "addhash",
    "remove",
    "publish",
    "delegation-add",
    "delegation-remove-role",
    "delegation-remove-paths",
    "delegation-remove-all-paths",
    "delegation-remove-key",
    "delegation-purge",
    "key-import",
    "collab-add",
    "collab-remove",
    "rotate-snapshot",
    "rotate-timestamp",
    "rotate-targets",
    "rotate-root",
    "witness",
    "reset-all",
    "status",
    "delete-remote",
)
"""Step kinds that must have exited 0 in at least one CI walk (else the generator degenerated)."""


def _selected_seeds(session: pytest.Session) -> list[int]:
    """The seeds of this module's walk tests that the run selected (all CI seeds if none)."""
    seeds: set[int] = set()
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        module = getattr(item, "module", None)
        if callspec is not None and module is not None and module.__name__ == __name__:
            seed = callspec.params.get("seed")
            if isinstance(seed, int):
                seeds.add(seed)
    return sorted(seeds) or list(CI_SEEDS)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerPair]:
    our_code = os.environ.get(OUR_CODE_ENV)
    workdir = tmp_path_factory.mktemp("client-walk-servers")
    with ServerPair(workdir, our_code=Path(our_code) if our_code else None) as started:
        yield started


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, pair: ServerPair, tmp_path_factory: pytest.TempPathFactory
) -> dict[int, WalkOutcome]:
    """Every selected walk, played once for the module."""
    seeds = _selected_seeds(request.session)
    workdir = tmp_path_factory.mktemp("client-walks")
    return {o.seed: o for o in run_walks(pair, seeds, CI_STEPS, workdir, jobs=JOBS)}


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("seed", CI_SEEDS, ids=lambda seed: f"seed-{seed}")
def test_client_walk_is_the_same_on_both_servers(
    outcomes: dict[int, WalkOutcome], seed: int
) -> None:
    outcome = outcomes[seed]
    if outcome.difference is not None:
        pytest.fail(outcome.report(), pytrace=False)
    assert outcome.steps_run == CI_STEPS


@pytest.mark.timeout(1200)
def test_walks_reach_every_operation(outcomes: dict[int, WalkOutcome]) -> None:
    """The walks do what they claim: every step kind succeeded somewhere."""
    if set(outcomes) != set(CI_SEEDS):
        reason = "only meaningful when every CI seed's walk is selected"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    succeeded: Counter[str] = Counter()
    for outcome in outcomes.values():
        succeeded.update(outcome.succeeded)
    missing = [kind for kind in MUST_SUCCEED if succeeded[kind] == 0]
    assert not missing, f"no walk ran these successfully: {missing}; counts: {dict(succeeded)}"


DELEGATION_LIST = """
ROLE                PATHS             KEY IDS                                                             THRESHOLD
----                -----             -------                                                             ---------
targets/dev                           0bca1fc536cee4cc709fd00af6d7b7dae51862185d4d5a9ab4f65082dc2f8ab4    1
targets/qa          "" <all paths>    0bca1fc536cee4cc709fd00af6d7b7dae51862185d4d5a9ab4f65082dc2f8ab4    1
targets/releases    app/              2dab600891ef05e74e7b98cde2d91eb239efb7793e2be0f90b79b3bd7e8208e2    1
                    docs/             0bca1fc536cee4cc709fd00af6d7b7dae51862185d4d5a9ab4f65082dc2f8ab4    
                    lib/                                                                                  

"""  # noqa: E501, W291 - the Go CLI's table, verbatim (trailing blanks included)
"""Output of the Debian ``notary delegation list`` for three roles (captured)."""


def test_delegation_list_is_parsed_into_roles_paths_and_labelled_keys() -> None:
    known = {"2dab600891ef05e74e7b98cde2d91eb239efb7793e2be0f90b79b3bd7e8208e2": "d1"}
    assert label_keys(delegation_rows(DELEGATION_LIST), known) == [
        ("targets/dev", (), ("key#1",), "1"),
        ("targets/qa", ('"" <all paths>',), ("key#1",), "1"),
        ("targets/releases", ("app/", "docs/", "lib/"), ("d1", "key#1"), "1"),
    ]


def test_target_list_rows_are_sorted() -> None:
    stdout = (
        "NAME    DIGEST    SIZE (BYTES)    ROLE\n----    ------    ------------    ----\n"
        "t2      bb        3               targets/releases\n"
        "t1      aa        2               targets\n"
    )
    assert target_rows(stdout) == [("t1", "aa", 2, "targets"), ("t2", "bb", 3, "targets/releases")]


@pytest.mark.timeout(300)
def test_a_difference_stops_the_walk_with_a_replay(pair: ServerPair, tmp_path: Path) -> None:
    """A step whose exit status differs is reported with both outputs and the replay.

    ``list`` of a GUN that exists only on Go's side (initialised there directly)
    makes the sides disagree for certain.
    """
    material = Material(tmp_path / "files")
    lockstep = LockStep(pair, tmp_path, material)
    gun = "example.com/walk/lopsided"
    go_owner = lockstep.client("go", OWNER)
    go_owner.run("init", gun, "-p")
    ok, difference = lockstep.step(0, Op(OWNER, ("list", gun), "list"))
    assert not ok
    assert isinstance(difference, Difference)
    assert difference.outputs["go"][0] == 0
    assert difference.outputs["ours"][0] != 0
    assert "exit status differs for `list`" in difference.describe()
    assert lockstep.lines[-1].comment.startswith("step 0 list: go=0 ours=")


@pytest.mark.timeout(300)
@pytest.mark.parametrize("only_on_go", ["target", "delegation"])
def test_a_listing_difference_is_found(pair: ServerPair, tmp_path: Path, only_on_go: str) -> None:
    """Both sides publish the same repository, then Go's side alone gets one more change."""
    material = Material(tmp_path / "files")
    lockstep = LockStep(pair, tmp_path, material)
    gun = f"example.com/walk/lopsided-{only_on_go}"
    ok, difference = lockstep.step(0, Op(OWNER, ("init", gun, "-p"), "init", remote=True))
    assert ok
    assert difference is None
    assert lockstep.compare(0, gun) is None
    if only_on_go == "target":
        target = material.resolve(material.write("t1.bin", "one\n"))
        extra: tuple[str, ...] = ("add", gun, "t1", target, "-p")
        expected = "list (fresh client) differs"
    else:
        key = material.add_key("d1", as_certificate=True)
        cert = material.resolve(key.public_file)
        extra = ("delegation", "add", gun, "targets/releases", cert, "--all-paths", "-p")
        expected = "delegation list (fresh client) differs"
    lockstep.client("go", OWNER).run(*extra)
    found = lockstep.compare(1, gun)
    assert found is not None
    assert found.what.startswith(expected), found.describe()
