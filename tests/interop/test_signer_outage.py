"""The signer dies in the middle of a publish loop, and comes back.

Our server + our signer on PostgreSQL (:mod:`tests.interop.pairings`). Three
repositories publish in a loop: one whose snapshot the ``notary`` CLI signs, one
whose snapshot the server signs (docker style), and one uploaded directly so the
raw answer can be checked. Part-way through, the signer is SIGKILLed. While it is
down:

* every publish fails: the CLI reports the failure and the server answers
  ``400 INVALID_UPDATE`` with an ``ErrValidation`` detail, as Go's server does
  when it cannot reach its signer (ADR 0007; ``notary_server/services/updates.py``).
  Go's message carries the gRPC error text (the CLI prints "An error occurred
  during validation: rpc error: code = Unavailable ..."); ours says only that
  the trust service is unavailable;
* nothing is written: ``tuf_files`` and ``changefeed`` are exactly as before;
* ``GET /_notary_server/health`` is 503 and names the trust service.

The signer is then started again on the same database with the same passphrase.
Without restarting the server, health is 200 again within a bounded wait and the
loop's publishes succeed; the CLI's changes that failed to publish stay staged and
go out with the next publish. Throughout, the stored metadata holds only complete
publishes: per role, versions 1..n without gaps, one snapshot per timestamp, each
timestamp naming a stored snapshot and each snapshot naming stored files.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from testkit.gotools import NotaryCLI, NotaryServerProcess
from testkit.repo_builder import RepoBuilder, fetch_server_key
from tests.interop.pairings import Stack, server_with_signer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.gotools, pytest.mark.postgres]

RECOVERY_TIMEOUT = 30.0
"""Seconds the server may take to find the restarted signer (gRPC reconnect backoff)."""

Row = tuple[str, str, int, str, bytes]  # gun, role, version, sha256 (hex), data


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with server_with_signer(tmp_path / "stack", "our-server+our-signer") as running:
        yield running


def _fetch(dsn: str, query: str) -> list[tuple[Any, ...]]:
    async def fetch() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(dsn)
        try:
            return [tuple(row) for row in await conn.fetch(query)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def stored(stack: Stack) -> tuple[list[Row], list[tuple[Any, ...]]]:
    """Every ``tuf_files`` row and every ``changefeed`` row of the server's database."""
    files = _fetch(
        stack.server_db, "SELECT gun, role, version, sha256, data FROM tuf_files ORDER BY id"
    )
    changes = _fetch(stack.server_db, "SELECT id, gun, version, sha256 FROM changefeed ORDER BY id")
    return [(g, r, v, s, bytes(d)) for g, r, v, s, d in files], changes


def _names(meta: dict[str, Any], role: str, by_hash: dict[str, Row]) -> Row:
    """The stored row whose SHA-256 and length ``meta`` records for ``role``."""
    entry = meta[role]
    digest = base64.b64decode(entry["hashes"]["sha256"]).hex()
    assert digest in by_hash, f"{role} {digest} is not stored"
    row = by_hash[digest]
    assert (row[1], len(row[4])) == (role, entry["length"])
    return row


def assert_only_complete_publishes(rows: list[Row]) -> None:
    """Per GUN: gap-free versions, one snapshot per timestamp, every reference stored."""
    by_gun: dict[str, dict[str, dict[int, Row]]] = defaultdict(lambda: defaultdict(dict))
    by_hash: dict[str, Row] = {}
    for row in rows:
        gun, role, version, sha256, data = row
        assert sha256 == hashlib.sha256(data).hexdigest()
        by_gun[gun][role][version] = row
        by_hash[sha256] = row
    for gun, roles in by_gun.items():
        # The CLI's first publish may start above 1 (``init -p`` uploads targets v2).
        for role, versions in roles.items():
            first = min(versions)
            assert sorted(versions) == list(range(first, first + len(versions))), (gun, role)
        # Every publish stores one snapshot and one timestamp naming it.
        timestamps, snapshots = sorted(roles[TIMESTAMP].items()), sorted(roles[SNAPSHOT].items())
        assert len(timestamps) == len(snapshots), gun
        for (_, (*_, data)), (_, snapshot) in zip(timestamps, snapshots, strict=True):
            assert _names(json.loads(data)["signed"]["meta"], SNAPSHOT, by_hash) == snapshot
        for *_, data in roles[SNAPSHOT].values():
            meta = json.loads(data)["signed"]["meta"]
            for role in meta:
                assert _names(meta, role, by_hash)[0] == gun
        assert set(roles) <= {ROOT, TARGETS, SNAPSHOT, TIMESTAMP}


def health(server: NotaryServerProcess) -> tuple[int, dict[str, str]]:
    status, _, body = server.get("/_notary_server/health", timeout=15.0)
    parsed: dict[str, str] = json.loads(body)
    return status, parsed


def wait_healthy(server: NotaryServerProcess, timeout: float) -> None:
    """Poll health until 200; fail when the bounded wait runs out."""
    deadline = time.monotonic() + timeout
    status, body = health(server)
    while status != 200:
        if time.monotonic() > deadline:
            pytest.fail(f"still {status} {body} after waiting {timeout:.0f}s for health")
        time.sleep(0.2)
        status, body = health(server)


@dataclass
class Publishers:
    """The loop's three repositories and everything added to them."""

    server: NotaryServerProcess
    basedir: Path
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    added: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.alice_gun = f"example.com/outage/app-{self.suffix}"  # the CLI signs its snapshot
        self.docker_gun = f"docker.io/outage/app-{self.suffix}"  # the server signs its snapshot
        self.raw_gun = f"example.com/outage/raw-{self.suffix}"  # uploaded by the test itself
        self.alice, self.owner = self.cli("alice"), self.cli("owner")
        self.alice.run("init", self.alice_gun, "-p")
        self.owner.run("init", self.docker_gun)
        self.owner.rotate_key(self.docker_gun, SNAPSHOT, server_managed=True)
        self.builder = RepoBuilder(
            self.raw_gun, timestamp_key=fetch_server_key(self.server, self.raw_gun, TIMESTAMP)
        )
        self.added = {self.alice_gun: {}, self.docker_gun: {}}

    @property
    def guns(self) -> tuple[str, str, str]:
        return self.alice_gun, self.docker_gun, self.raw_gun

    def cli(self, name: str) -> NotaryCLI:
        return NotaryCLI(
            self.basedir / name, server_url=self.server.url, ca_path=self.server.ca_path
        )

    def target(self, name: str) -> tuple[Path, bytes]:
        content = f"content of {name}\n".encode() * 5
        path = self.basedir / "files" / f"{name}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return path, content

    def publish(self, name: str, *, succeeds: bool) -> None:
        """Add target ``name`` to each repository and publish; check the outcome."""
        for gun, client in ((self.alice_gun, self.alice), (self.docker_gun, self.owner)):
            path, content = self.target(f"{gun.split('/')[0]}-{name}")
            self.added[gun][name] = content
            result = client.run("add", gun, name, path, "-p", check=False)
            output = result.stdout + result.stderr
            assert (result.returncode == 0) == succeeds, output
            assert ("Successfully published changes" in output) == succeeds, output
            assert ("* fatal: " in output) != succeeds, output

        self.builder.add_target(name, self.target(f"raw-{name}")[1])
        parts = self.builder.publish()
        status, _, body = self.server.upload(self.raw_gun, parts)
        if succeeds:
            assert status == 200, body
            self.builder.accept(parts)
        else:  # Go's answer when the trust service is unreachable (ADR 0007)
            assert status == 400, body
            error = json.loads(body)["errors"][0]
            assert error["code"] == "INVALID_UPDATE", body
            assert error["detail"] == {
                "Name": "ErrValidation",
                "Error": {"Msg": "the trust service is unavailable"},
            }, body


def test_signer_killed_in_a_publish_loop(stack: Stack, tmp_path: Path) -> None:
    server, signer = stack.server, stack.signer
    repos = Publishers(server, tmp_path)
    timestamp_keys = {gun: fetch_server_key(server, gun, TIMESTAMP).key_id for gun in repos.guns}

    phases = ("up", "up", "down", "down", "up", "up")
    before_outage = stored(stack)
    for step, phase in enumerate(phases):
        if phase == "down" and signer.running:
            before_outage = stored(stack)
            signer.kill()
        elif phase == "up" and not signer.running:
            signer.start()  # same database, same passphrase, same port
            wait_healthy(server, RECOVERY_TIMEOUT)  # the server was not restarted

        repos.publish(f"t{step}", succeeds=phase == "up")
        if phase == "down":
            assert stored(stack) == before_outage  # nothing partial, not even a changefeed row
            status, reasons = health(server)
            assert status == 503
            assert "Trust operational" in reasons, reasons
        assert_only_complete_publishes(stored(stack)[0])

    # The CLI's failed publishes were answered 400 too.
    for gun in repos.added:
        assert server.log.count(f"POST /v2/{gun}/_trust/tuf/ 400") == phases.count("down"), gun
    # Every change reached the server, those staged during the outage with the next publish.
    for gun, contents in repos.added.items():
        listed = repos.cli(f"reader-{gun.split('/')[0]}").list_targets(gun)
        assert {(row.name, row.sha256) for row in listed} == {
            (name, hashlib.sha256(content).hexdigest()) for name, content in contents.items()
        }
    # The restarted signer decrypted and used the keys it held before.
    for gun, key_id in timestamp_keys.items():
        assert fetch_server_key(server, gun, TIMESTAMP).key_id == key_id
        (signature,) = json.loads(server.get_metadata(gun, TIMESTAMP).body)["signatures"]
        assert signature["keyid"] == key_id
