"""The real ``notary`` CLI (Debian, Go 0.7) against our server, over TLS.

The repository life of issue #3, split by concern, each on its own GUN of one
server stack per pairing (module scope):

* ``sqlite3``, ``postgres``: our server with its local (in-process) trust service;
* issue #4's pairings, all on PostgreSQL with a remote signer over mutual TLS
  (:mod:`tests.interop.pairings`): ``our-server+our-signer``,
  ``go-server+our-signer`` (the Debian ``notary-server``), ``our-server+go-signer``
  (the Debian ``notary-signer``).

The scenarios:

* init, add, publish, list, lookup, verify, remove + publish, ``add -p``;
* witness, status, reset;
* a delegation published by a second client holding only the delegation key;
* key rotations: snapshot ``-r``, timestamp ``-r``, targets, root (a client that
  trusted the old root still lists afterwards);
* ``delete --remote``, then the GUN is initialised and published again;
* a docker-style GUN whose snapshot is server-managed from the first publish.

After every publishing step a brand-new client (empty trust dir, so it trusts on
first use and walks timestamp -> snapshot -> root -> targets -> delegations)
must list exactly what was published: names, SHA-256, sizes and roles. In the
pairings, the server's timestamp and snapshot keys must be the signer's.

No scenario is specific to our server: none checks a behaviour where the ADRs
say we differ from Go (0006, 0007: error codes of broken uploads, concurrent
versions, prefix deletes of the memory store, ...), and every assertion holds
for the Debian ``notary-server`` as well, so none is excluded from
``go-server+our-signer``. A scenario added later that checks such a difference
must skip that pairing, with a comment naming the ADR.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from tests.gotools import (
    NotaryCLI,
    NotaryServerProcess,
    TargetListing,
    make_delegation_key,
    require_go_tools,
)
from tests.interop.pairings import (
    PAIRINGS,
    SIGNER_ALIAS,
    Pairing,
    Stack,
    server_with_signer,
)
from tests.interop.repo_builder import fetch_server_key
from tests.ourserver import OurNotaryServer, StorageKind

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.gotools

RELEASES = "targets/releases"
LOCAL_TRUST: dict[str, StorageKind] = {"sqlite3": "sqlite3", "postgres": "postgres"}
"""Our server with its in-process trust service, by storage backend."""
REMOTE_SIGNER: dict[str, Pairing] = {pairing: pairing for pairing in PAIRINGS}


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
    ],
)
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """One running deployment per parameter: a local-trust server, or a server + signer pairing."""
    require_go_tools()
    kind: str = request.param
    workdir = tmp_path_factory.mktemp(f"cli-stack-{kind}")
    if kind in LOCAL_TRUST:
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
