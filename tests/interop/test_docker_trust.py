"""``docker trust`` (the real docker CLI, no daemon) against our server, over TLS.

``DOCKER_CONTENT_TRUST_SERVER`` points at our server (docker insists on https);
docker reads the CA from ``$DOCKER_CONFIG/tls/<host:port>/ca.crt``
(``cli/trust/trust.go`` certificateDirectory). The image reference is
``registry.example.com/org/app``: a non-loopback registry host keeps TLS
verification on, and the GUN is the full repository name.

``docker trust sign`` needs the daemon (it inspects the local image for its
digest and size), so the signed tags are made with the notary CLI on docker's own
trust directory (``$DOCKER_CONFIG/trust``), signing into ``targets/releases`` with
the signer key docker generated, which is exactly what ``docker trust sign`` would
publish.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from testkit.gotools import NotaryCLI, require_docker_cli, require_go_tools
from testkit.gotools.common import DEFAULT_PASSPHRASE, no_proxy_env
from testkit.ourserver import OurNotaryServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.gotools

DOCKER = shutil.which("docker")
REPO_PREFIX = "registry.example.com/org/app-"
RELEASES = "targets/releases"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OurNotaryServer]:
    require_go_tools()
    require_docker_cli()
    with OurNotaryServer(tmp_path_factory.mktemp("docker-trust"), storage="sqlite3") as srv:
        yield srv


class DockerTrust:
    """``docker trust ...`` with its own DOCKER_CONFIG and HOME; no daemon."""

    def __init__(self, server: OurNotaryServer, basedir: Path) -> None:
        self.repo = REPO_PREFIX + secrets.token_hex(4)  # the server is shared by the module
        self.basedir = basedir
        self.config_dir = basedir / "docker-config"
        certs = self.config_dir / "tls" / f"127.0.0.1:{server.port}"
        certs.mkdir(parents=True)
        shutil.copy(server.ca_path, certs / "ca.crt")
        (basedir / "home").mkdir()
        self.env = no_proxy_env(os.environ)
        self.env.update(
            DOCKER_CONFIG=str(self.config_dir),
            HOME=str(basedir / "home"),
            DOCKER_HOST="unix:///nonexistent/docker.sock",  # prove no daemon is needed
            DOCKER_CONTENT_TRUST_SERVER=server.url,
            DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE=DEFAULT_PASSPHRASE,
            DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE=DEFAULT_PASSPHRASE,
        )
        # the notary CLI on docker's trust dir ($DOCKER_CONFIG/trust), same passphrase
        self.notary = NotaryCLI(self.config_dir, server_url=server.url, ca_path=server.ca_path)

    def run(self, *args: str, answer: str = "", check: bool = True) -> str:
        assert DOCKER is not None
        proc = subprocess.run(
            [DOCKER, "trust", *args],
            input=answer,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.basedir,
            timeout=60,
            check=False,
        )
        if check and proc.returncode != 0:
            command = " ".join(args)
            msg = f"docker trust {command} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            raise AssertionError(msg)
        return proc.stdout

    def inspect(self) -> dict[str, Any]:
        result = json.loads(self.run("inspect", self.repo))
        assert len(result) == 1
        entry: dict[str, Any] = result[0]
        return entry

    def sign(self, tag: str, content: bytes) -> None:
        """What ``docker trust sign`` publishes, done with the notary CLI (no daemon)."""
        payload = self.basedir / f"{tag}.manifest"
        payload.write_bytes(content)
        self.notary.run("add", "-p", self.repo, tag, payload, "--roles", RELEASES)


@pytest.fixture
def docker(server: OurNotaryServer, tmp_path: Path) -> DockerTrust:
    return DockerTrust(server, tmp_path)


def signer_names(entry: dict[str, Any]) -> list[str]:
    return [signer["Name"] for signer in entry["Signers"]]


def test_key_generate_and_signer_add_initialise_the_repository(
    docker: DockerTrust, server: OurNotaryServer
) -> None:
    out = docker.run("key", "generate", "alice", "--dir", str(docker.basedir))
    assert "Successfully generated and loaded private key" in out
    assert (docker.basedir / "alice.pub").is_file()
    out = docker.run(
        "signer", "add", "--key", str(docker.basedir / "alice.pub"), "alice", docker.repo
    )
    assert f'Successfully initialized "{docker.repo}"' in out
    assert f"Successfully added signer: alice to {docker.repo}" in out
    assert server.get_metadata(docker.repo, "root").status == 200

    entry = docker.inspect()
    assert entry["Name"] == docker.repo
    assert entry["SignedTags"] == []
    assert signer_names(entry) == ["alice"]
    assert [k["Name"] for k in entry["AdministrativeKeys"]] == ["Root", "Repository"]
    pretty = docker.run("inspect", "--pretty", docker.repo)
    assert f"No signatures for {docker.repo}" in pretty
    assert "alice" in pretty


def test_signed_tags_inspect_and_revoke(docker: DockerTrust) -> None:
    docker.run("key", "generate", "alice", "--dir", str(docker.basedir))
    docker.run("signer", "add", "--key", str(docker.basedir / "alice.pub"), "alice", docker.repo)
    docker.sign("v1", b'{"manifest": "v1"}\n')
    docker.sign("v2", b'{"manifest": "v2"}\n')

    entry = docker.inspect()
    assert sorted(t["SignedTag"] for t in entry["SignedTags"]) == ["v1", "v2"]
    pretty = docker.run("inspect", "--pretty", docker.repo)
    assert f"Signatures for {docker.repo}" in pretty
    assert "v1" in pretty
    assert "v2" in pretty

    out = docker.run("revoke", "--yes", f"{docker.repo}:v2")
    assert f"Successfully deleted signature for {docker.repo}:v2" in out
    assert [t["SignedTag"] for t in docker.inspect()["SignedTags"]] == ["v1"]


def test_signer_remove(docker: DockerTrust) -> None:
    """Removing the last signer of the released tags (docker asks; ``--force`` skips it all).

    docker 28's ``signer remove`` only removes after the confirmation prompt: with
    ``--force`` (or when the signer is not the last) it silently does nothing.
    """
    docker.run("key", "generate", "alice", "--dir", str(docker.basedir))
    docker.run("signer", "add", "--key", str(docker.basedir / "alice.pub"), "alice", docker.repo)
    docker.sign("v1", b'{"manifest": "v1"}\n')
    out = docker.run("signer", "remove", "alice", docker.repo, answer="y\n")
    assert f"Successfully removed alice from {docker.repo}" in out
    assert docker.inspect()["Signers"] == []
