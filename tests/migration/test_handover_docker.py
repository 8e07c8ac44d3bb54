"""The one-command hand-over of a ``docker trust`` repository made on Go's notary-server.

``docker trust signer add`` initialises a repository whose snapshot the Go
server manages, so after ``admin import`` our server can sign nothing for it
and every publish fails. The owner then runs ``python -m notary_server.handover``
with nothing but docker's own configuration (the root key in
``$DOCKER_CONFIG/trust``, the passphrase in ``DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE``,
the CA in ``$DOCKER_CONFIG/tls/<host:port>/ca.crt``); afterwards publishing to
our server works, old and new clients list the repository, and
``DOCKER_CONTENT_TRUST=1 docker pull`` resolves the tag to the same digest as
before (no daemon: docker prints the resolution, then fails to reach it).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from testkit.gotools import (
    GoNotaryServer,
    NotaryCLI,
    free_port,
    no_proxy_env,
    require_docker_cli,
    require_go_tools,
)
from testkit.gotools.common import DEFAULT_PASSPHRASE
from testkit.ourserver import OurNotaryServer
from tests.admin.cli import admin

if TYPE_CHECKING:
    from pathlib import Path

    from testkit.gotools import NotaryServerProcess

pytestmark = pytest.mark.gotools

RELEASES = "targets/releases"
PULLED = re.compile(r"Pull \(1 of 1\): \S+@sha256:([0-9a-f]{64})")
HANDOVER_TIMEOUT = 120


class Docker:
    """The docker CLI (no daemon) with its own ``DOCKER_CONFIG``, trusting given servers."""

    def __init__(self, basedir: Path, *servers: NotaryServerProcess) -> None:
        self.config_dir = basedir / "docker-config"
        for server in servers:
            certs = self.config_dir / "tls" / f"127.0.0.1:{server.port}"
            certs.mkdir(parents=True, exist_ok=True)
            shutil.copy(server.ca_path, certs / "ca.crt")
        (basedir / "home").mkdir(parents=True, exist_ok=True)
        self.basedir = basedir
        self.env = no_proxy_env(os.environ)
        self.env.pop("NOTARY_ROOT_PASSPHRASE", None)
        self.env.update(
            DOCKER_CONFIG=str(self.config_dir),
            HOME=str(basedir / "home"),
            DOCKER_HOST=f"tcp://127.0.0.1:{free_port()}",  # nothing listens: no daemon
            DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE=DEFAULT_PASSPHRASE,
            DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE=DEFAULT_PASSPHRASE,
        )

    def run(self, server: NotaryServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", *args],
            capture_output=True,
            text=True,
            env=self.env | {"DOCKER_CONTENT_TRUST_SERVER": server.url},
            cwd=self.basedir,
            timeout=60,
            check=False,
        )

    def pull_digest(self, server: NotaryServerProcess, reference: str) -> str:
        """What ``DOCKER_CONTENT_TRUST=1 docker pull`` resolves ``reference`` to."""
        self.env["DOCKER_CONTENT_TRUST"] = "1"
        try:
            proc = self.run(server, "pull", reference)
        finally:
            del self.env["DOCKER_CONTENT_TRUST"]
        found = PULLED.search(proc.stdout)
        assert found is not None, proc.stdout + proc.stderr
        return found[1]

    def notary(self, server: NotaryServerProcess) -> NotaryCLI:
        """The notary CLI on docker's trust directory (``docker trust sign`` needs a daemon)."""
        return NotaryCLI(self.config_dir, server_url=server.url, ca_path=server.ca_path)


def hand_over(owner: Docker, server: NotaryServerProcess, gun: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "notary_server.handover", "--server", server.url, gun],
        capture_output=True,
        text=True,
        env=owner.env,
        stdin=subprocess.DEVNULL,
        timeout=HANDOVER_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_docker_repository_imported_handed_over_and_published_again(tmp_path: Path) -> None:
    require_go_tools()
    require_docker_cli()
    gun = f"registry.example.com/org/app-{secrets.token_hex(4)}"
    with (
        GoNotaryServer(tmp_path / "go") as go,
        OurNotaryServer(tmp_path / "ours", storage="sqlite3") as ours,
    ):
        owner = Docker(tmp_path / "owner", go, ours)
        assert (
            owner.run(go, "trust", "key", "generate", "alice", "--dir", str(tmp_path)).returncode
            == 0
        )
        added = owner.run(
            go, "trust", "signer", "add", "--key", str(tmp_path / "alice.pub"), "alice", gun
        )
        assert added.returncode == 0, added.stdout + added.stderr
        manifest = tmp_path / "v1.manifest"
        manifest.write_bytes(b'{"manifest": "v1"}\n')
        owner.notary(go).run("add", "-p", gun, "v1", manifest, "--roles", RELEASES)
        digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
        early = Docker(tmp_path / "early", go, ours)  # trusts the Go server's root
        assert early.pull_digest(go, f"{gun}:v1") == digest
        early_cli = NotaryCLI(tmp_path / "early-cli", server_url=go.url, ca_path=go.ca_path)
        assert [row.name for row in early_cli.list_targets(gun)] == ["v1"]

        source = ("--from", go.url, "--ca", str(go.ca_path))
        done = admin(ours.config_path, "import", *source, "--all")  # the source's changefeed
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{gun}: imported 1 root version(s)" in done.stdout

        # Before the hand-over our server holds no snapshot key for it: publishing fails.
        manifest2 = tmp_path / "v2.manifest"
        manifest2.write_bytes(b'{"manifest": "v2"}\n')
        refused = owner.notary(ours).run(
            "add", "-p", gun, "v2", manifest2, "--roles", RELEASES, check=False
        )
        assert refused.returncode != 0
        assert "server does not hold current snapshot key" in refused.stdout + refused.stderr
        owner.notary(ours).run("reset", gun, "--all")

        report = hand_over(owner, ours, gun)
        assert f"{gun}: handed over: published root v1 -> v2" in report
        assert "1 of 1 repositories handed over" in report
        assert "already handed over" in hand_over(owner, ours, gun)
        again = admin(ours.config_path, "import", *source, gun)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "already handed over to this server" in again.stdout

        owner.notary(ours).run("add", "-p", gun, "v2", manifest2, "--roles", RELEASES)
        listed = NotaryCLI(early_cli.basedir, server_url=ours.url, ca_path=ours.ca_path)
        assert sorted(row.name for row in listed.list_targets(gun)) == ["v1", "v2"]
        fresh_cli = NotaryCLI(tmp_path / "fresh-cli", server_url=ours.url, ca_path=ours.ca_path)
        assert sorted(row.name for row in fresh_cli.list_targets(gun)) == ["v1", "v2"]

        fresh = Docker(tmp_path / "fresh", ours)
        assert early.pull_digest(ours, f"{gun}:v1") == digest
        assert fresh.pull_digest(ours, f"{gun}:v1") == digest
        v2 = hashlib.sha256(manifest2.read_bytes()).hexdigest()
        assert early.pull_digest(ours, f"{gun}:v2") == v2
        inspected = owner.run(ours, "trust", "inspect", gun)
        assert inspected.returncode == 0, inspected.stderr
        assert '"SignedTag": "v2"' in inspected.stdout.replace('":"', '": "')
