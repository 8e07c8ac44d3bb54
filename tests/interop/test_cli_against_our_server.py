"""The real ``notary`` CLI (Debian, Go 0.7) against our server, over TLS.

The repository life of issue #3, split by concern, each on its own GUN of one
server stack per pairing (module scope):

* ``sqlite3``, ``postgres``: our server with its local (in-process) trust service;
* issue #4's pairings, all on PostgreSQL with a remote signer over mutual TLS
  (:mod:`tests.interop.pairings`): ``our-server+our-signer``,
  ``go-server+our-signer`` (the Debian ``notary-server``), ``our-server+go-signer``
  (the Debian ``notary-signer``);
* ``go-reference``: the Debian ``notary-server`` alone (memory storage, local
  trust), which proves every scenario against Go itself.

The scenarios:

* init, add, publish, list, lookup, verify, remove + publish, ``add -p``;
* witness, status, reset;
* a delegation published by a second client holding only the delegation key;
* key rotations: snapshot ``-r``, timestamp ``-r``, targets, root (a client that
  trusted the old root still lists afterwards);
* ``delete --remote``, then the GUN is initialised and published again;
* a docker-style GUN whose snapshot is server-managed from the first publish;
* ``delegation remove -y`` of a delegation holding targets (Go's client then
  uploads ``"delegations": {"keys": {}, "roles": null}``);
* ``delegation remove`` of some paths (``--paths``), of all paths (``--all-paths``,
  Go then omits ``paths``), of one key (a key ID argument), then the delegation reused;
* ``delegation purge --key`` of a key two delegations share;
* two delegations with targets, one removed, the other still publishing;
* the snapshot key back to the client (``key rotate snapshot`` without ``-r``)
  and to the server again;
* a target removed and added again with other content, and an add + remove staged
  in one changelist (Go applies them in order: the target goes).

After every publishing step a brand-new client (empty trust dir, so it trusts on
first use and walks timestamp -> snapshot -> root -> targets -> delegations)
must list exactly what was published: names, SHA-256, sizes and roles; after a
delegation change its ``delegation list`` must show exactly the expected roles,
paths, canonical key IDs and thresholds. In the pairings, the server's timestamp
and snapshot keys must be the signer's.

No scenario is specific to our server: none checks a behaviour where the ADRs
say we differ from Go (0006, 0007: error codes of broken uploads, concurrent
versions, prefix deletes of the memory store, ...), and every assertion holds
for the Debian ``notary-server`` as well (``go-reference`` runs them all), so
none is excluded from ``go-server+our-signer``. A scenario added later that checks
such a difference must skip that pairing and ``go-reference``, with a comment
naming the ADR.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from testkit.gotools import (
    GoNotaryServer,
    NotaryCLI,
    NotaryServerProcess,
    TargetListing,
    make_delegation_key,
    require_go_tools,
)
from testkit.ourserver import OurNotaryServer, StorageKind
from testkit.repo_builder import fetch_server_key
from tests.interop.pairings import (
    PAIRINGS,
    SIGNER_ALIAS,
    Pairing,
    Stack,
    server_with_signer,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

pytestmark = pytest.mark.gotools

RELEASES = "targets/releases"
QA = "targets/qa"
LOCAL_TRUST: dict[str, StorageKind] = {"sqlite3": "sqlite3", "postgres": "postgres"}
"""Our server with its in-process trust service, by storage backend."""
REMOTE_SIGNER: dict[str, Pairing] = {pairing: pairing for pairing in PAIRINGS}
GO_REFERENCE = "go-reference"
"""The Debian ``notary-server`` alone (memory storage, local trust): every scenario's proof."""


@dataclass(frozen=True)
class Deployment:
    """The server the scenarios talk to and, for issue #4's pairings, its signer stack."""

    server: NotaryServerProcess
    stack: Stack | None = None


@pytest.fixture(
    scope="module",
    params=[
        "sqlite3",
        pytest.param("postgres", marks=pytest.mark.postgres),
        *(pytest.param(pairing, marks=pytest.mark.postgres) for pairing in PAIRINGS),
        GO_REFERENCE,
    ],
)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """One running deployment per parameter: a local-trust server, or a server + signer pairing."""
    require_go_tools()
    kind: str = request.param
    workdir = tmp_path_factory.mktemp(f"cli-stack-{kind}")
    if kind == GO_REFERENCE:
        with GoNotaryServer(workdir) as go_server:
            yield Deployment(go_server)
    elif kind in LOCAL_TRUST:
        with OurNotaryServer(workdir, storage=LOCAL_TRUST[kind]) as srv:
            yield Deployment(srv)
    else:
        with server_with_signer(workdir, REMOTE_SIGNER[kind]) as stack:
            yield Deployment(stack.server, stack)


@pytest.fixture(scope="module")
def server(deployment: Deployment) -> NotaryServerProcess:
    return deployment.server


# --------------------------------------------------------------------------- helpers


@dataclass
class Session:
    """Named CLI clients of one test, a brand-new client on demand, and target files."""

    server: NotaryServerProcess
    basedir: Path
    clients: dict[str, NotaryCLI] = field(default_factory=dict)
    _fresh: int = 0

    def __call__(self, name: str) -> NotaryCLI:
        if name not in self.clients:
            self.clients[name] = NotaryCLI(
                self.basedir / name, server_url=self.server.url, ca_path=self.server.ca_path
            )
        return self.clients[name]

    def fresh(self) -> NotaryCLI:
        """A client that has never seen anything."""
        self._fresh += 1
        return self(f"fresh-{self._fresh}")

    def target_file(self, name: str, content: bytes) -> Path:
        path = self.basedir / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path


@pytest.fixture
def session(server: NotaryServerProcess, tmp_path: Path) -> Session:
    return Session(server, tmp_path)


def unique_gun(label: str) -> str:
    return f"example.com/cli-vs-ours/{label}-{secrets.token_hex(3)}"


def payload(name: str) -> bytes:
    return f"content of {name}\n".encode() * 5


def row(name: str, content: bytes, role: str = TARGETS) -> TargetListing:
    return TargetListing(name, hashlib.sha256(content).hexdigest(), len(content), role)


def assert_fresh_client_sees(session: Session, gun: str, expected: set[TargetListing]) -> None:
    """A brand-new client lists exactly ``expected`` (no more, no fewer, no duplicates)."""
    rows = session.fresh().list_targets(gun)
    assert sorted(rows) == sorted(expected)


def served(server: NotaryServerProcess, gun: str, role: str) -> dict[str, Any]:
    """The current ``role`` file the server serves, parsed."""
    status, _, body = server.get_metadata(gun, role)
    assert status == 200, (role, body[:300])
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def root_keyids(server: NotaryServerProcess, gun: str, role: str) -> list[str]:
    """The key IDs the served root lists for ``role``."""
    return list(served(server, gun, ROOT)["signed"]["roles"][role]["keyids"])


def signing_keyids(server: NotaryServerProcess, gun: str, role: str) -> set[str]:
    return {sig["keyid"] for sig in served(server, gun, role)["signatures"]}


def version(server: NotaryServerProcess, gun: str, role: str) -> int:
    return int(served(server, gun, role)["signed"]["version"])


def server_key_id(server: NotaryServerProcess, gun: str, role: str) -> str:
    return fetch_server_key(server, gun, role).key_id


def published(cli: NotaryCLI, *args: str | Path) -> None:
    out = cli.run(*args).stdout
    assert "Successfully published changes" in out, out


ALL_PATHS = '"" <all paths>'
"""How ``delegation list`` prints the empty path, i.e. ``--all-paths`` (``prettyPaths``)."""


@dataclass(frozen=True)
class Delegation:
    """One role of ``notary delegation list``: its paths, canonical key IDs and threshold."""

    paths: frozenset[str]
    keyids: frozenset[str]
    threshold: int = 1


def delegation(paths: Iterable[str], keyids: Iterable[str], threshold: int = 1) -> Delegation:
    return Delegation(frozenset(paths), frozenset(keyids), threshold)


def parse_delegation_list(stdout: str) -> dict[str, Delegation]:
    """Parse ``notary delegation list`` (``cmd/notary/prettyprint.go`` prettyPrintRoles).

    A tabwriter table ``ROLE PATHS KEY IDS THRESHOLD``: a role's first row carries its
    name and threshold, further rows only more paths and key IDs; cells may be empty
    (a role without paths), so cells are cut at the header's column offsets.
    """
    if "No delegations present in this repository." in stdout:
        return {}
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("ROLE"))
    starts = [lines[header].index(col) for col in ("ROLE", "PATHS", "KEY IDS", "THRESHOLD")]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    found: dict[str, tuple[set[str], set[str], int]] = {}
    current = ""
    for line in lines[header + 2 :]:  # skip the row of dashes
        if not line.strip():
            continue
        name, path, keyid, threshold = (line[a:b].strip() for a, b in bounds)
        if name:
            current = name
            found[current] = (set(), set(), int(threshold))
        paths, keyids, _ = found[current]
        paths.update([path] if path else [])
        keyids.update([keyid] if keyid else [])
    return {name: delegation(p, k, t) for name, (p, k, t) in found.items()}


def assert_fresh_client_delegations(
    session: Session, gun: str, expected: dict[str, Delegation]
) -> None:
    """A brand-new client's ``delegation list`` shows exactly ``expected``."""
    out = session.fresh().run("delegation", "list", gun).stdout
    assert parse_delegation_list(out) == expected, out


def add_delegation(cli: NotaryCLI, gun: str, role: str, *args: str | Path) -> list[str]:
    """``notary delegation add GUN ROLE ARGS...``; the canonical key IDs it reports added.

    With ``-p`` among ``args`` the publish must succeed.
    """
    out = cli.run("delegation", "add", gun, role, *args).stdout
    assert f"Addition of delegation role {role} " in out, out
    if "-p" in args:
        assert "Successfully published changes" in out, out
    keys = re.search(r"with keys \[([0-9a-f ]*)\]", out)
    return keys.group(1).split() if keys else []


# --------------------------------------------------------------------------- tests


def test_init_add_publish_list_lookup_verify_remove(session: Session) -> None:
    gun = unique_gun("basic")
    alice, server = session("alice"), session.server

    published(alice, "init", gun, "-p")
    for role in (ROOT, TARGETS, SNAPSHOT, TIMESTAMP):
        served(server, gun, role)
    assert_fresh_client_sees(session, gun, set())

    v1, v2 = payload("v1"), payload("v2")
    alice.run("add", gun, "v1", session.target_file("v1.bin", v1))
    alice.run("add", gun, "v2", session.target_file("v2.bin", v2))
    published(alice, "publish", gun)
    assert_fresh_client_sees(session, gun, {row("v1", v1), row("v2", v2)})

    lookup = session.fresh().run("lookup", gun, "v1").stdout.split()
    assert lookup == ["v1", f"sha256:{hashlib.sha256(v1).hexdigest()}", str(len(v1))]

    reader = session.fresh()
    verified = reader.run("verify", gun, "v2", input=v2.decode())
    assert verified.stdout == v2.decode()
    refused = reader.run("verify", gun, "v2", input="not the target\n", check=False)
    assert refused.returncode != 0
    assert "data not present in the trusted collection" in refused.stdout + refused.stderr

    alice.run("remove", gun, "v1")
    published(alice, "publish", gun)
    assert_fresh_client_sees(session, gun, {row("v2", v2)})
    missing = session.fresh().run("lookup", gun, "v1", check=False)
    assert missing.returncode != 0

    v3 = payload("v3")
    published(alice, "add", gun, "v3", session.target_file("v3.bin", v3), "-p")
    assert_fresh_client_sees(session, gun, {row("v2", v2), row("v3", v3)})


def test_witness_status_reset(session: Session) -> None:
    gun = unique_gun("witness")
    alice, server = session("alice"), session.server
    v1 = payload("v1")
    published(alice, "init", gun, "-p")
    published(alice, "add", gun, "v1", session.target_file("v1.bin", v1), "-p")
    expected = {row("v1", v1)}
    targets_version = version(server, gun, TARGETS)

    out = alice.run("witness", gun, TARGETS, "-p").stdout
    assert "Successfully published changes" in out, out
    assert version(server, gun, TARGETS) == targets_version + 1
    assert_fresh_client_sees(session, gun, expected)

    assert "No unpublished changes" in alice.run("status", gun).stdout
    alice.run("add", gun, "staged", session.target_file("staged.bin", payload("staged")))
    status = alice.run("status", gun).stdout
    assert "Unpublished changes" in status
    assert any(line.split()[1:] == ["create", TARGETS, "target", "staged"]
               for line in status.splitlines() if line.startswith("0 "))  # fmt: skip

    alice.run("reset", gun, "--all")
    assert "No unpublished changes" in alice.run("status", gun).stdout
    published(alice, "publish", gun)
    assert_fresh_client_sees(session, gun, expected)


def test_delegation_published_by_second_client(session: Session) -> None:
    gun = unique_gun("delegation")
    alice, bob, server = session("alice"), session("bob"), session.server
    v1, v2 = payload("v1"), payload("v2")
    published(alice, "init", gun, "-p")
    published(alice, "add", gun, "v1", session.target_file("v1.bin", v1), "-p")

    # bob holds no snapshot key: the server must sign the snapshot
    alice.rotate_key(gun, SNAPSHOT, server_managed=True)
    assert root_keyids(server, gun, SNAPSHOT) == [server_key_id(server, gun, SNAPSHOT)]
    assert_fresh_client_sees(session, gun, {row("v1", v1)})

    releases = make_delegation_key(session.basedir / "delegation", "releases")
    published(alice, "delegation", "add", gun, RELEASES, releases.cert_path, "--all-paths", "-p")
    delegations = session.fresh().run("delegation", "list", gun).stdout
    assert RELEASES in delegations
    assert_fresh_client_sees(session, gun, {row("v1", v1)})

    bob.import_key(releases.key_path, role=RELEASES)
    published(bob, "add", gun, "v2", session.target_file("v2.bin", v2), "--roles", RELEASES, "-p")
    served(server, gun, RELEASES)
    assert_fresh_client_sees(session, gun, {row("v1", v1), row("v2", v2, RELEASES)})
    assert session.fresh().list_targets(gun, RELEASES) == [row("v2", v2, RELEASES)]


def test_key_rotations(session: Session) -> None:
    gun = unique_gun("rotate")
    alice, old, server = session("alice"), session("old-root-reader"), session.server
    v1 = payload("v1")
    published(alice, "init", gun, "-p")
    published(alice, "add", gun, "v1", session.target_file("v1.bin", v1), "-p")
    expected = {row("v1", v1)}
    assert old.list_targets(gun) == [row("v1", v1)]  # pins the first root

    before = root_keyids(server, gun, SNAPSHOT)
    alice.rotate_key(gun, SNAPSHOT, server_managed=True)
    after = root_keyids(server, gun, SNAPSHOT)
    assert after != before
    assert after == [server_key_id(server, gun, SNAPSHOT)]
    assert signing_keyids(server, gun, SNAPSHOT) == set(after)
    assert_fresh_client_sees(session, gun, expected)

    before = root_keyids(server, gun, TIMESTAMP)
    alice.rotate_key(gun, TIMESTAMP, server_managed=True)
    after = root_keyids(server, gun, TIMESTAMP)
    assert after != before
    assert after == [server_key_id(server, gun, TIMESTAMP)]
    assert signing_keyids(server, gun, TIMESTAMP) == set(after)
    assert_fresh_client_sees(session, gun, expected)

    before = root_keyids(server, gun, TARGETS)
    alice.rotate_key(gun, TARGETS)
    after = root_keyids(server, gun, TARGETS)
    assert after != before
    assert signing_keyids(server, gun, TARGETS) == set(after)
    assert_fresh_client_sees(session, gun, expected)

    before = root_keyids(server, gun, ROOT)
    root_version = version(server, gun, ROOT)
    alice.rotate_key(gun, ROOT)
    after = root_keyids(server, gun, ROOT)
    assert after != before
    assert version(server, gun, ROOT) == root_version + 1
    assert signing_keyids(server, gun, ROOT) >= set(before) | set(after)
    assert_fresh_client_sees(session, gun, expected)

    # the client that pinned the first root follows the chain of rotations
    assert old.list_targets(gun) == [row("v1", v1)]
    cached_root = json.loads(old.cached_metadata(gun)[ROOT])
    assert cached_root["signed"]["version"] == root_version + 1

    # publishing still works, signed by the rotated targets key
    v2 = payload("v2")
    published(alice, "add", gun, "v2", session.target_file("v2.bin", v2), "-p")
    assert_fresh_client_sees(session, gun, expected | {row("v2", v2)})
    assert sorted(old.list_targets(gun)) == sorted([row("v1", v1), row("v2", v2)])


def test_delete_remote_then_reinitialise(session: Session) -> None:
    gun = unique_gun("delete")
    alice, server = session("alice"), session.server
    v1 = payload("v1")
    published(alice, "init", gun, "-p")
    published(alice, "add", gun, "v1", session.target_file("v1.bin", v1), "-p")
    assert_fresh_client_sees(session, gun, {row("v1", v1)})

    out = alice.run("delete", gun, "--remote").stdout
    assert "Successfully deleted local and remote trust data" in out, out
    for role in (ROOT, TARGETS, SNAPSHOT, TIMESTAMP):
        assert server.get_metadata(gun, role).status == 404, role
    gone = session.fresh().run("list", gun, check=False)
    assert gone.returncode != 0
    assert f"does not have trust data for {gun}" in gone.stdout + gone.stderr

    v2 = payload("v2")
    published(alice, "init", gun, "-p")
    published(alice, "add", gun, "v2", session.target_file("v2.bin", v2), "-p")
    assert_fresh_client_sees(session, gun, {row("v2", v2)})
    assert version(server, gun, ROOT) == 1


def test_docker_style_server_managed_snapshot(session: Session) -> None:
    gun = f"docker.io/library/alpine-{secrets.token_hex(3)}"
    owner, server = session("owner"), session.server
    latest = payload("latest")
    owner.run("init", gun)  # nothing uploaded yet
    assert server.get_metadata(gun, ROOT).status == 404
    owner.rotate_key(gun, SNAPSHOT, server_managed=True)  # the first publish
    snapshot_key = server_key_id(server, gun, SNAPSHOT)
    assert root_keyids(server, gun, SNAPSHOT) == [snapshot_key]
    assert signing_keyids(server, gun, SNAPSHOT) == {snapshot_key}
    assert_fresh_client_sees(session, gun, set())

    published(owner, "add", gun, "latest", session.target_file("l.bin", latest), "-p")
    assert signing_keyids(server, gun, SNAPSHOT) == {snapshot_key}
    assert_fresh_client_sees(session, gun, {row("latest", latest)})

    newer = payload("1.0")
    published(owner, "add", gun, "1.0", session.target_file("1.0.bin", newer), "-p")
    assert_fresh_client_sees(session, gun, {row("latest", latest), row("1.0", newer)})


# ------------------------------------------------- delegation removal, purge, re-adds


def test_delegation_removed_with_its_targets(session: Session) -> None:
    """``delegation remove -y GUN ROLE``: the role goes, and so do the targets it signed.

    Go's client leaves ``"delegations": {"keys": {}, "roles": null}`` in targets.
    """
    gun = unique_gun("deleg-remove")
    alice, bob, server = session("alice"), session("bob"), session.server
    v1, v2 = payload("v1"), payload("v2")
    published(alice, "init", gun, "-p")
    published(alice, "add", gun, "v1", session.target_file("v1.bin", v1), "-p")
    alice.rotate_key(gun, SNAPSHOT, server_managed=True)  # bob holds no snapshot key

    releases = make_delegation_key(session.basedir / "delegation", "releases")
    keyids = add_delegation(alice, gun, RELEASES, releases.cert_path, "--all-paths", "-p")
    assert len(keyids) == 1
    assert_fresh_client_delegations(session, gun, {RELEASES: delegation([ALL_PATHS], keyids)})

    bob.import_key(releases.key_path, role=RELEASES)
    published(bob, "add", gun, "v2", session.target_file("v2.bin", v2), "--roles", RELEASES, "-p")
    assert_fresh_client_sees(session, gun, {row("v1", v1), row("v2", v2, RELEASES)})

    out = alice.run("delegation", "remove", "-y", gun, RELEASES).stdout
    assert f"Forced removal (including all keys and paths) of delegation role {RELEASES}" in out
    published(alice, "publish", gun)
    assert not served(server, gun, TARGETS)["signed"]["delegations"]["roles"]
    assert_fresh_client_sees(session, gun, {row("v1", v1)})
    assert_fresh_client_delegations(session, gun, {})


def test_delegation_remove_paths_all_paths_and_a_key(session: Session) -> None:
    """``delegation remove`` with ``--paths``, with ``--all-paths``, with a key ID; then re-use."""
    gun = unique_gun("deleg-narrow")
    alice, bob = session("alice"), session("bob")
    published(alice, "init", gun, "-p")
    alice.rotate_key(gun, SNAPSHOT, server_managed=True)

    first = make_delegation_key(session.basedir / "delegation", "first")
    second = make_delegation_key(session.basedir / "delegation", "second")
    first_id, second_id = add_delegation(
        alice, gun, RELEASES, first.cert_path, second.cert_path,
        "--paths", "releases/", "--paths", "docs/", "--paths", "tmp/", "-p",
    )  # fmt: skip
    both = {first_id, second_id}
    assert_fresh_client_delegations(
        session, gun, {RELEASES: delegation(["releases/", "docs/", "tmp/"], both)}
    )

    published(alice, "delegation", "remove", gun, RELEASES, "--paths", "tmp/", "-p")
    assert_fresh_client_delegations(
        session, gun, {RELEASES: delegation(["releases/", "docs/"], both)}
    )

    published(alice, "delegation", "remove", gun, RELEASES, "--all-paths", "-p")
    assert_fresh_client_delegations(session, gun, {RELEASES: delegation([], both)})

    published(alice, "delegation", "remove", gun, RELEASES, first_id, "-p")
    assert_fresh_client_delegations(session, gun, {RELEASES: delegation([], [second_id])})
    assert_fresh_client_sees(session, gun, set())

    # the delegation is still usable: a path again, and the remaining key signs
    assert add_delegation(alice, gun, RELEASES, "--paths", "releases/", "-p") == []
    assert_fresh_client_delegations(
        session, gun, {RELEASES: delegation(["releases/"], [second_id])}
    )
    bob.import_key(second.key_path, role=RELEASES)
    content = payload("releases/v1")
    published(
        bob, "add", gun, "releases/v1", session.target_file("r1.bin", content),
        "--roles", RELEASES, "-p",
    )  # fmt: skip
    assert_fresh_client_sees(session, gun, {row("releases/v1", content, RELEASES)})


def test_delegation_purge_key_across_two_delegations(session: Session) -> None:
    """``delegation purge --key ID`` drops a key shared by two delegations from both."""
    gun = unique_gun("deleg-purge")
    alice, bob, carol = session("alice"), session("bob"), session("carol")
    published(alice, "init", gun, "-p")
    alice.rotate_key(gun, SNAPSHOT, server_managed=True)

    keydir = session.basedir / "delegation"
    shared, rel_key, qa_key = (make_delegation_key(keydir, n) for n in ("shared", "rel", "qa"))
    shared_id, rel_id = add_delegation(
        alice, gun, RELEASES, shared.cert_path, rel_key.cert_path, "--all-paths", "-p"
    )
    shared_again, qa_id = add_delegation(
        alice, gun, QA, shared.cert_path, qa_key.cert_path, "--all-paths", "-p"
    )
    assert shared_again == shared_id
    assert_fresh_client_delegations(
        session, gun,
        {RELEASES: delegation([ALL_PATHS], [shared_id, rel_id]),
         QA: delegation([ALL_PATHS], [shared_id, qa_id])},
    )  # fmt: skip

    rel, qa = payload("rel"), payload("qa")
    bob.import_key(rel_key.key_path, role=RELEASES)
    carol.import_key(qa_key.key_path, role=QA)
    published(
        bob, "add", gun, "rel", session.target_file("rel.bin", rel), "--roles", RELEASES, "-p"
    )
    published(carol, "add", gun, "qa", session.target_file("qa.bin", qa), "--roles", QA, "-p")
    expected = {row("rel", rel, RELEASES), row("qa", qa, QA)}
    assert_fresh_client_sees(session, gun, expected)

    out = alice.run("delegation", "purge", gun, "--key", shared_id, "-p").stdout
    assert "Removal of the following keys from all delegations" in out, out
    assert "Successfully published changes" in out, out
    assert_fresh_client_delegations(
        session, gun,
        {RELEASES: delegation([ALL_PATHS], [rel_id]), QA: delegation([ALL_PATHS], [qa_id])},
    )  # fmt: skip
    assert_fresh_client_sees(session, gun, expected)


def test_remove_one_of_two_delegations(session: Session) -> None:
    """Targets in two delegations; one delegation goes, the other keeps its targets and works."""
    gun = unique_gun("deleg-one-of-two")
    alice, bob, carol = session("alice"), session("bob"), session("carol")
    v1, rel, qa = payload("v1"), payload("rel"), payload("qa")
    published(alice, "init", gun, "-p")
    published(alice, "add", gun, "v1", session.target_file("v1.bin", v1), "-p")
    alice.rotate_key(gun, SNAPSHOT, server_managed=True)

    keydir = session.basedir / "delegation"
    rel_key, qa_key = make_delegation_key(keydir, "rel"), make_delegation_key(keydir, "qa")
    (rel_id,) = add_delegation(alice, gun, RELEASES, rel_key.cert_path, "--all-paths", "-p")
    (qa_id,) = add_delegation(alice, gun, QA, qa_key.cert_path, "--all-paths", "-p")
    assert_fresh_client_delegations(
        session, gun,
        {RELEASES: delegation([ALL_PATHS], [rel_id]), QA: delegation([ALL_PATHS], [qa_id])},
    )  # fmt: skip
    bob.import_key(rel_key.key_path, role=RELEASES)
    carol.import_key(qa_key.key_path, role=QA)
    published(
        bob, "add", gun, "rel", session.target_file("rel.bin", rel), "--roles", RELEASES, "-p"
    )
    published(carol, "add", gun, "qa", session.target_file("qa.bin", qa), "--roles", QA, "-p")
    assert_fresh_client_sees(
        session, gun, {row("v1", v1), row("rel", rel, RELEASES), row("qa", qa, QA)}
    )

    out = alice.run("delegation", "remove", "-y", gun, QA).stdout
    assert f"Forced removal (including all keys and paths) of delegation role {QA}" in out
    published(alice, "publish", gun)
    expected = {row("v1", v1), row("rel", rel, RELEASES)}
    assert_fresh_client_sees(session, gun, expected)
    assert_fresh_client_delegations(session, gun, {RELEASES: delegation([ALL_PATHS], [rel_id])})

    rel2 = payload("rel2")
    published(
        bob, "add", gun, "rel2", session.target_file("rel2.bin", rel2), "--roles", RELEASES, "-p"
    )
    assert_fresh_client_sees(session, gun, expected | {row("rel2", rel2, RELEASES)})


def test_snapshot_key_back_to_the_client_and_to_the_server_again(session: Session) -> None:
    """``key rotate snapshot -r``, then without ``-r`` (the client signs again), then ``-r``."""
    gun = unique_gun("snapshot-back")
    alice, server = session("alice"), session.server
    v1, v2, v3 = payload("v1"), payload("v2"), payload("v3")
    published(alice, "init", gun, "-p")
    published(alice, "add", gun, "v1", session.target_file("v1.bin", v1), "-p")
    client_first = root_keyids(server, gun, SNAPSHOT)

    alice.rotate_key(gun, SNAPSHOT, server_managed=True)
    server_first = server_key_id(server, gun, SNAPSHOT)
    assert root_keyids(server, gun, SNAPSHOT) == [server_first]
    assert_fresh_client_sees(session, gun, {row("v1", v1)})

    alice.rotate_key(gun, SNAPSHOT)  # a new key of the client's
    client_again = root_keyids(server, gun, SNAPSHOT)
    assert len(client_again) == 1
    assert client_again not in ([server_first], client_first)
    assert signing_keyids(server, gun, SNAPSHOT) == set(client_again)
    assert_fresh_client_sees(session, gun, {row("v1", v1)})

    published(alice, "add", gun, "v2", session.target_file("v2.bin", v2), "-p")
    assert signing_keyids(server, gun, SNAPSHOT) == set(client_again)
    assert_fresh_client_sees(session, gun, {row("v1", v1), row("v2", v2)})

    alice.rotate_key(gun, SNAPSHOT, server_managed=True)
    server_again = server_key_id(server, gun, SNAPSHOT)
    assert root_keyids(server, gun, SNAPSHOT) == [server_again]
    assert signing_keyids(server, gun, SNAPSHOT) == {server_again}
    assert_fresh_client_sees(session, gun, {row("v1", v1), row("v2", v2)})

    published(alice, "add", gun, "v3", session.target_file("v3.bin", v3), "-p")
    assert signing_keyids(server, gun, SNAPSHOT) == {server_again}
    assert_fresh_client_sees(session, gun, {row("v1", v1), row("v2", v2), row("v3", v3)})


def test_target_removed_then_added_again_with_another_hash(session: Session) -> None:
    """add, publish; remove, publish; re-add (other content), publish; add + remove staged."""
    gun = unique_gun("readd")
    alice = session("alice")
    first, second, third = payload("first"), payload("second"), payload("third")
    published(alice, "init", gun, "-p")
    published(alice, "add", gun, "app", session.target_file("1.bin", first), "-p")
    assert_fresh_client_sees(session, gun, {row("app", first)})

    alice.run("remove", gun, "app")
    published(alice, "publish", gun)
    assert_fresh_client_sees(session, gun, set())

    published(alice, "add", gun, "app", session.target_file("2.bin", second), "-p")
    assert_fresh_client_sees(session, gun, {row("app", second)})
    lookup = session.fresh().run("lookup", gun, "app").stdout.split()
    assert lookup == ["app", f"sha256:{hashlib.sha256(second).hexdigest()}", str(len(second))]

    # staged in this order, the changelist adds then removes: nothing is left
    alice.run("add", gun, "app", session.target_file("3.bin", third))
    alice.run("remove", gun, "app")
    published(alice, "publish", gun)
    assert_fresh_client_sees(session, gun, set())

    published(alice, "add", gun, "app", session.target_file("3.bin", third), "-p")
    assert_fresh_client_sees(session, gun, {row("app", third)})


def _signer_keys(dsn: str) -> dict[str, tuple[str, str, str]]:
    async def fetch() -> dict[str, tuple[str, str, str]]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch("SELECT key_id, gun, role, passphrase_alias FROM private_keys")
        finally:
            await conn.close()
        return {r["key_id"]: (r["gun"], r["role"], r["passphrase_alias"]) for r in rows}

    return asyncio.run(fetch())


# Only the pairings have a signer; the local trust service keeps keys in the server.
@pytest.mark.parametrize(
    "deployment",
    [pytest.param(pairing, marks=pytest.mark.postgres) for pairing in PAIRINGS],
    indirect=True,
)
def test_server_keys_live_in_the_signer(deployment: Deployment, session: Session) -> None:
    """In a pairing, the server's timestamp and snapshot keys are ECDSA keys the signer holds."""
    assert deployment.stack is not None
    gun = unique_gun("signer-keys")
    alice, server = session("alice"), session.server
    published(alice, "init", gun, "-p")
    alice.rotate_key(gun, SNAPSHOT, server_managed=True)
    held = _signer_keys(deployment.stack.signer_db)
    for role in (TIMESTAMP, SNAPSHOT):
        key = fetch_server_key(server, gun, role)
        assert key.keytype == "ecdsa", role
        assert held[key.key_id] == (gun, role, SIGNER_ALIAS)  # encrypted under the alias
        assert signing_keyids(server, gun, role) == {key.key_id}
