"""Scripted scenarios driving the Go tools, and the ``reference_vectors`` fixture.

Delegation uploads and notary issue #1630: see the package docstring
(:mod:`testkit.gotools`); :class:`DelegationPublishOutcome` records what a server did.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from testkit.gotools.cli import (
    CLIFactory,
    NotaryCLI,
    TargetListing,
    cli_factory_for,
    make_delegation_key,
)
from testkit.gotools.collect import Source, Vector, collect_repository, role_of_label
from testkit.gotools.common import require_go_tools
from testkit.gotools.server import GoNotaryServer, NotaryServerProcess, Response


@dataclass(frozen=True)
class StepResult:
    """Outcome of one scenario step."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class DelegationPublishOutcome:
    """What the Go server did with a publish to a delegation role.

    ``cli_ok``/``cli_output`` is the delegate's ``notary add --roles ROLE -p`` run.
    ``probe`` is the server's answer to a harmless upload of a non-JSON part named
    ``ROLE`` (as the Go client names it): a server that keeps the filename verbatim
    answers ``400 MALFORMED_JSON``; one that basenames it (notary#1630) answers
    ``400 INVALID_ROLE`` with detail ``"releases"``.  Nothing is stored either way.
    ``server_has_delegation`` is whether ``ROLE.json`` is served afterwards.
    """

    role: str
    cli_ok: bool
    cli_output: str
    probe: Response
    server_has_delegation: bool

    @property
    def filename_basenamed(self) -> bool:
        """True if the server reduced the part filename to its base name."""
        basename = self.role.rsplit("/", 1)[-1]
        return self.probe.status == 400 and f'"detail":"{basename}"'.encode() in self.probe.body


@dataclass
class ScenarioResult:
    """Everything one scenario produced."""

    gun: str
    vectors: list[Vector] = field(default_factory=list)
    steps: list[StepResult] = field(default_factory=list)
    final_listing: list[TargetListing] = field(default_factory=list)
    delegation: DelegationPublishOutcome | None = None
    seconds: float = 0.0
    _seen: set[tuple[str, str, str, bytes]] = field(default_factory=set, repr=False)

    def add(self, vector: Vector) -> None:
        """Add ``vector`` unless an identical file with the same label is known."""
        key = (vector.source, vector.client, vector.label, vector.data)
        if key not in self._seen:
            self._seen.add(key)
            self.vectors.append(vector)

    def snapshot_state(
        self, server: NotaryServerProcess, step: str, clients: Sequence[tuple[str, NotaryCLI]]
    ) -> None:
        """Collect server files and the clients' caches after ``step``."""
        for label, blob in collect_repository(server, self.gun).items():
            self.add(Vector(self.gun, label, role_of_label(label), blob, "server", step))
        for name, cli in clients:
            for role, blob in cli.cached_metadata(self.gun).items():
                self.add(Vector(self.gun, role, role, blob, "client-cache", step, name))


def _write_target(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_bytes(f"payload of {name}\n".encode() * 7)
    return path


def run_reference_scenario(
    server: NotaryServerProcess, cli_factory: CLIFactory, gun: str
) -> ScenarioResult:
    """Drive the real CLI through a repository's life and collect every file.

    Steps (clients ``alice`` = owner, ``bob`` = delegate, ``fresh`` = reader):

    1. ``init GUN -p`` (root/targets/snapshot keys local, timestamp on server)
    2. ``add GUN v1 file`` then ``publish GUN``
    3. ``add GUN v1b file -p``
    4. ``key rotate GUN snapshot -r`` (snapshot becomes server-managed; needed
       before a delegate without the snapshot key can publish)
    5. ``delegation add GUN targets/releases releases.crt --all-paths -p``
    6. bob: ``key import releases.key --role targets/releases``;
       ``add GUN v2 file --roles targets/releases -p``.  The Debian server accepts
       it (see the module docstring on notary#1630); the outcome and a filename
       probe are recorded in ``result.delegation``.  If a server refuses it, the
       step is recorded as failed, bob's staged change is reset and the scenario
       goes on (``v2`` is then missing from the final listing).  Note the Go
       client never caches what it uploads, so a refused delegation file is not
       available as a vector; a published one reaches the caches of the clients
       that later download it (alice, fresh) and the server vectors.
    7. ``key rotate GUN timestamp -r``
    8. ``key rotate GUN targets``
    9. ``key rotate GUN root``
    10. ``add GUN v3 file -p`` (publish signed by the rotated targets key)
    11. fresh client: ``list GUN`` must succeed (``result.final_listing``).

    Server files and all clients' caches are collected after every step.
    """
    started = time.monotonic()
    result = ScenarioResult(gun)
    alice, bob, fresh = cli_factory("alice"), cli_factory("bob"), cli_factory("fresh")
    clients = [("alice", alice), ("bob", bob), ("fresh", fresh)]
    files = alice.basedir / "files"
    files.mkdir(exist_ok=True)

    def step(name: str, action: Callable[[], object]) -> None:
        action()
        result.steps.append(StepResult(name, ok=True))
        result.snapshot_state(server, name, clients)

    step("init", lambda: alice.run("init", gun, "-p"))

    def add_publish() -> None:
        alice.run("add", gun, "v1", _write_target(files, "v1.bin"))
        alice.run("publish", gun)

    step("add-publish", add_publish)
    step("add-p", lambda: alice.run("add", gun, "v1b", _write_target(files, "v1b.bin"), "-p"))
    step("rotate-snapshot-server", lambda: alice.rotate_key(gun, "snapshot", server_managed=True))
    releases = make_delegation_key(alice.basedir / "delegation", "releases")
    step(
        "delegation-add",
        lambda: alice.run(
            "delegation", "add", gun, "targets/releases", releases.cert_path, "--all-paths", "-p"
        ),
    )

    bob.import_key(releases.key_path, role="targets/releases")
    bob_files = bob.basedir / "files"
    bob_files.mkdir(exist_ok=True)
    proc = bob.run(
        "add", gun, "v2", _write_target(bob_files, "v2.bin"), "--roles", "targets/releases", "-p",
        check=False,
    )  # fmt: skip
    result.snapshot_state(server, "delegation-publish", clients)
    result.delegation = _delegation_outcome(server, gun, "targets/releases", proc)
    result.steps.append(
        StepResult("delegation-publish", ok=proc.returncode == 0, detail=proc.stderr[-2000:])
    )
    if proc.returncode != 0:
        bob.run("reset", gun, "--all")

    step("rotate-timestamp", lambda: alice.rotate_key(gun, "timestamp", server_managed=True))
    step("rotate-targets", lambda: alice.rotate_key(gun, "targets"))
    step("rotate-root", lambda: alice.rotate_key(gun, "root"))
    step(
        "add-after-rotation",
        lambda: alice.run("add", gun, "v3", _write_target(files, "v3.bin"), "-p"),
    )

    def final_list() -> None:
        result.final_listing = fresh.list_targets(gun)

    step("fresh-list", final_list)
    result.seconds = time.monotonic() - started
    return result


def _delegation_outcome(
    server: NotaryServerProcess, gun: str, role: str, proc: subprocess.CompletedProcess[str]
) -> DelegationPublishOutcome:
    probe = server.upload(gun, {role: b"not json"})
    status, _, _ = server.get_metadata(gun, role)
    return DelegationPublishOutcome(
        role=role,
        cli_ok=proc.returncode == 0,
        cli_output=(proc.stdout + proc.stderr)[-4000:],
        probe=probe,
        server_has_delegation=status == 200,
    )


def run_server_managed_snapshot_scenario(
    server: NotaryServerProcess, cli_factory: CLIFactory, gun: str
) -> ScenarioResult:
    """A GUN whose snapshot is server-managed from its first publish (as docker does it).

    ``init GUN`` (no publish), ``key rotate GUN snapshot -r`` (its publish is the
    first one: root lists the server's snapshot key, the server signs snapshot),
    ``add GUN latest file -p``, then a fresh client's ``list GUN``.
    """
    started = time.monotonic()
    result = ScenarioResult(gun)
    owner, fresh = cli_factory("owner"), cli_factory("reader")
    clients = [("owner", owner), ("reader", fresh)]
    files = owner.basedir / "files"
    files.mkdir(exist_ok=True)

    def step(name: str, action: Callable[[], object]) -> None:
        action()
        result.steps.append(StepResult(name, ok=True))
        result.snapshot_state(server, name, clients)

    step("init-unpublished", lambda: owner.run("init", gun))
    step("rotate-snapshot-server", lambda: owner.rotate_key(gun, "snapshot", server_managed=True))
    step("add-p", lambda: owner.run("add", gun, "latest", _write_target(files, "l.bin"), "-p"))

    def final_list() -> None:
        result.final_listing = fresh.list_targets(gun)

    step("fresh-list", final_list)
    result.seconds = time.monotonic() - started
    return result


# --------------------------------------------------------------------------- fixture

REFERENCE_GUN = "example.com/harness/app"
REFERENCE_GUN_SERVER_SNAPSHOT = "example.com/harness/docker-style"


@dataclass(frozen=True)
class ReferenceVectors:
    """Result of the session fixture: both scenarios and all their vectors."""

    scenarios: Mapping[str, ScenarioResult]
    server_log: str

    @property
    def vectors(self) -> list[Vector]:
        """Every vector of every scenario."""
        return [v for s in self.scenarios.values() for v in s.vectors]

    def select(
        self,
        *,
        gun: str | None = None,
        role: str | None = None,
        source: Source | None = None,
    ) -> list[Vector]:
        """Vectors matching all given filters."""
        return [
            v
            for v in self.vectors
            if (gun is None or v.gun == gun)
            and (role is None or v.role == role)
            and (source is None or v.source == source)
        ]


def build_reference_vectors(workdir: Path) -> ReferenceVectors:
    """Start a Go server, run both scenarios against it, return the vectors."""
    with GoNotaryServer(workdir / "server") as server:
        factory_a = cli_factory_for(server, workdir / "clients-a")
        factory_b = cli_factory_for(server, workdir / "clients-b")
        scenarios = {
            REFERENCE_GUN: run_reference_scenario(server, factory_a, REFERENCE_GUN),
            REFERENCE_GUN_SERVER_SNAPSHOT: run_server_managed_snapshot_scenario(
                server, factory_b, REFERENCE_GUN_SERVER_SNAPSHOT
            ),
        }
        log = server.log
    return ReferenceVectors(scenarios, log)


@pytest.fixture(scope="session")
def reference_vectors(tmp_path_factory: pytest.TempPathFactory) -> ReferenceVectors:
    """Session fixture: metadata the Go tools produced (skips/fails without them)."""
    require_go_tools()
    return build_reference_vectors(tmp_path_factory.mktemp("gotools"))
