"""``GET``/``POST {role}.key`` sequences on every server + trust service pairing.

A rotation (``POST``) must hand out a key nobody was given before: not the
current key, not the key a ``GET`` returned, not an earlier rotation's, also
when several rotations run at once. Stacks:

* ``go-local`` and ``our-local``: the server's in-process trust service;
* ``go-server+go-signer``: the Debian binaries on PostgreSQL, the reference;
* the three pairings of :mod:`tests.interop.pairings`.

What Go does (observed with the Debian 0.7 binaries, and read in Go's
``server/{timestamp,snapshot}`` ``GetOrCreate*Key``/``Rotate*Key`` and
``signer/keydbstore/sql_keydbstore.go``): both ``GET`` (when no root names a
key the trust service holds) and ``POST`` call the trust service's ``Create``.
Go's local service generates every time, so every ``GET`` and ``POST`` gets a
new key. Go's SQL signer hands back its pending key (``last_used IS NULL``,
never used to sign) for as long as there is one, so on ``go-server+go-signer``
a ``GET`` and the ``POST``\\s after it all get the same key until that key
signs; this is the case the test pins as Go's (reference) behaviour, and the
one ours does not copy: every other stack must pass the rotation invariant.

Which key a ``GET`` returns after a ``POST`` is Go's everywhere: with a root,
the key the root lists (a rotation changes no metadata) until a root listing
the rotated key is published, then that one. Without a root it depends on the
trust service, as in Go: a new key where the service always generates (the
local services, and our signer for Go's server, which cannot ask for reuse);
the rotated key where the signer keeps a pending key (Go's signer, and ours
for our server, which asks for reuse on ``GET``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import pytest

from notary_tuf.keys import PublicKey
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from testkit.gotools import GoNotaryServer, NotaryServerProcess, require_go_tools
from testkit.ourserver import OurNotaryServer
from testkit.pg import admin_dsn, require_postgres, throwaway_database
from testkit.repo_builder import RepoBuilder
from tests.interop.pairings import (
    PAIRINGS,
    go_migrate,
    remote_trust_service,
    server_with_signer,
    signer_on_postgres,
    with_sslmode,
)
from tests.signer.conftest import write_tls_files

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.gotools, pytest.mark.postgres]

REFERENCE: Final = "go-server+go-signer"
STACKS: Final = ("go-local", "our-local", REFERENCE, *PAIRINGS)
REUSING: Final = frozenset({REFERENCE, "our-server+our-signer", "our-server+go-signer"})
"""Stacks whose ``GET`` (no root) hands back the signer's pending key: GETs agree."""
ROLES: Final = (TIMESTAMP, SNAPSHOT)
CONCURRENT: Final = 6


@contextlib.contextmanager
def go_server_go_signer(workdir: Path) -> Iterator[NotaryServerProcess]:
    """The Debian ``notary-server`` on the Debian ``notary-signer``, both on PostgreSQL."""
    require_go_tools()
    admin = admin_dsn()
    require_postgres(admin)
    tls_dir = workdir / "tls"
    tls_dir.mkdir(parents=True, exist_ok=True)
    tls = write_tls_files(tls_dir)
    with (
        signer_on_postgres(workdir / "signer", tls, go=True) as signer,
        throwaway_database(admin, "notary_rot_server") as server_db,
    ):
        asyncio.run(go_migrate(server_db, "server"))
        storage = {"backend": "postgres", "db_url": with_sslmode(server_db)}
        trust_service = remote_trust_service(tls, signer.port)
        with GoNotaryServer(workdir / "server", storage=storage, trust_service=trust_service) as s:
            yield s


@contextlib.contextmanager
def running(stack: str, workdir: Path) -> Iterator[NotaryServerProcess]:
    if stack == "go-local":
        require_go_tools()
        with GoNotaryServer(workdir) as go:
            yield go
    elif stack == "our-local":
        with OurNotaryServer(workdir) as ours:
            yield ours
    elif stack == REFERENCE:
        with go_server_go_signer(workdir) as reference:
            yield reference
    else:
        pairing = next(p for p in PAIRINGS if p == stack)
        with server_with_signer(workdir, pairing) as running_stack:
            yield running_stack.server


@dataclass(frozen=True)
class Stack:
    name: str
    server: NotaryServerProcess

    def key(self, method: str, gun: str, role: str) -> PublicKey:
        response = self.server.request(method, f"/v2/{gun}/_trust/tuf/{role}.key")
        assert response.status == 200, (method, role, response.body[:300])
        return PublicKey.from_dict(json.loads(response.body))

    def get(self, gun: str, role: str) -> str:
        return self.key("GET", gun, role).key_id

    def rotate(self, gun: str, role: str) -> str:
        return self.key("POST", gun, role).key_id


@pytest.fixture(scope="module", params=STACKS)
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    name: str = request.param
    with running(name, tmp_path_factory.mktemp(name.replace("+", "_"))) as server:
        yield Stack(name, server)


def _gun(case: str, role: str) -> str:
    return f"example.com/rotation/{case}/{role}"


@pytest.mark.parametrize("role", ROLES)
def test_without_root(stack: Stack, role: str) -> None:
    gun = _gun("noroot", role)
    first, second = stack.get(gun, role), stack.get(gun, role)
    rotated = [stack.rotate(gun, role), stack.rotate(gun, role)]
    after = stack.get(gun, role)

    if stack.name == REFERENCE:
        # Go's SQL signer: one pending key, handed to every GET and POST until it signs.
        assert {first, second, *rotated, after} == {first}
        return
    assert (first == second) is (stack.name in REUSING)
    seen = {first, second}
    for key_id in rotated:
        assert key_id not in seen, "a rotation handed back a key handed out before"
        seen.add(key_id)
    if stack.name in REUSING:
        assert after == rotated[-1]  # the rotated key, as on Go's signer
    else:
        assert after not in seen  # a new key, as on Go's local service


def _publish_root(stack: Stack, builder: RepoBuilder, *, first: bool) -> None:
    parts = (
        builder.publish() if first else {ROOT: builder.root_file(), TARGETS: builder.targets_file()}
    )
    response = stack.server.upload(builder.gun, parts)
    assert response.status == 200, response.body[:500]
    builder.accept(parts)


def test_with_root(stack: Stack) -> None:
    gun = _gun("root", "both")
    builder = RepoBuilder(
        gun,
        timestamp_key=stack.key("GET", gun, TIMESTAMP),
        snapshot_key=stack.key("GET", gun, SNAPSHOT),
    )
    _publish_root(stack, builder, first=True)
    listed = {TIMESTAMP: builder.timestamp_key.key_id, SNAPSHOT: builder.snapshot_public.key_id}
    rotated: dict[str, list[str]] = {}
    for role in ROLES:
        assert stack.get(gun, role) == listed[role]
        rotated[role] = [stack.rotate(gun, role), stack.rotate(gun, role)]
        # a rotation changes no metadata: GET still returns the key the root lists
        assert stack.get(gun, role) == listed[role]
        assert rotated[role][0] != listed[role]
        if stack.name == REFERENCE:
            assert rotated[role][1] == rotated[role][0]  # Go's signer: the same pending key
        else:
            assert rotated[role][1] not in {listed[role], rotated[role][0]}

    # A new root listing one more rotation's keys: GET returns them from then on.
    keys = {role: stack.key("POST", gun, role) for role in ROLES}
    for role in ROLES:
        if stack.name == REFERENCE:
            assert keys[role].key_id == rotated[role][0]
        else:
            assert keys[role].key_id not in {listed[role], *rotated[role]}
    builder.timestamp_key, builder.snapshot_key = keys[TIMESTAMP], keys[SNAPSHOT]
    _publish_root(stack, builder, first=False)
    for role in ROLES:
        assert stack.get(gun, role) == keys[role].key_id
        again = stack.rotate(gun, role)
        # the published key has signed, so even Go's signer makes a new one now
        assert again not in {listed[role], *rotated[role], keys[role].key_id}
        assert stack.get(gun, role) == keys[role].key_id


@pytest.mark.parametrize("role", ROLES)
def test_concurrent_rotations(stack: Stack, role: str) -> None:
    gun = _gun("concurrent", role)
    handed = stack.get(gun, role)
    with ThreadPoolExecutor(CONCURRENT) as pool:
        rotated = list(pool.map(lambda _: stack.rotate(gun, role), range(CONCURRENT)))
    if stack.name == REFERENCE:
        assert set(rotated) == {handed}  # Go's signer: everyone gets the pending key
        return
    assert len(set(rotated)) == CONCURRENT, "two rotations got the same key"
    assert handed not in rotated
