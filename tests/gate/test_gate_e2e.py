"""The registry gate with real parts (issue #16).

Debian's ``docker-registry`` (distribution 2.8) on loopback, our notary server,
the gate in front with ``cache.max_age`` 1 s, images built by the test as OCI
layouts and copied with Debian's ``skopeo``, signed with the real ``notary``
CLI (``addhash`` + ``publish``). Under ``CI=true`` nothing here skips.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from testkit.gotools import NotaryCLI, free_port, require_docker_cli, require_go_tools
from testkit.ourserver import OurNotaryServer
from testkit.realparts import (
    OCI_MANIFEST,
    DockerTrustPull,
    GateProcess,
    Image,
    RegistryProcess,
    Skopeo,
    http,
    require_binaries,
    write_oci_layout,
)

pytestmark = pytest.mark.gotools

MAX_AGE = 1.0
REVOCATION_POLLS = 40  # x 0.25 s: ten times the configured max age


@dataclass
class Setup:
    registry: RegistryProcess
    trust: OurNotaryServer
    gate: GateProcess
    notary: NotaryCLI
    skopeo: Skopeo
    workdir: Path

    def gun(self, repository: str) -> str:
        return f"{self.gate.address}/{repository}"

    def image(self, name: str, tag: str, content: str) -> Image:
        return write_oci_layout(self.workdir / "layouts" / name, tag, content)

    def push(self, image: Image, repository: str, tag: str, *, via: str | None = None) -> None:
        target = via or self.registry.address
        done = self.skopeo.copy(
            f"oci:{image.layout}:{image.tag}", f"docker://{target}/{repository}:{tag}"
        )
        assert done.returncode == 0, done.stderr

    def sign(self, repository: str, tag: str, image: Image, *, init: bool = True) -> None:
        gun = self.gun(repository)
        if init:
            self.notary.run("init", gun, "-p")
        digest_hex = image.digest.removeprefix("sha256:")
        self.notary.run("addhash", gun, tag, str(len(image.manifest)), "--sha256", digest_hex)
        self.notary.run("publish", gun)

    def pull(self, reference: str, *, gate: GateProcess | None = None) -> tuple[int, str]:
        out = self.workdir / "pulled" / f"{time.monotonic_ns()}"
        out.parent.mkdir(exist_ok=True)
        done = self.skopeo.copy(f"docker://{(gate or self.gate).address}/{reference}", f"oci:{out}")
        return done.returncode, done.stderr


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    require_binaries("docker-registry", "skopeo")
    require_go_tools()
    workdir = tmp_path_factory.mktemp("gate")
    registry = RegistryProcess(workdir / "registry")
    trust = OurNotaryServer(workdir / "trust")
    gate_port = free_port()
    gate = GateProcess(
        workdir / "gate",
        {
            "registry": {"url": "", "name": f"127.0.0.1:{gate_port}"},
            "trust_server": {"url": "", "tls_ca_file": ""},
            "enforce": [f"127.0.0.1:{gate_port}/prod/"],
            "cache": {"max_age": MAX_AGE},
        },
    )
    gate.port = gate_port
    try:
        registry.start()
        trust.start()
        gate.config["registry"]["url"] = registry.url
        gate.config["trust_server"] = {"url": trust.url, "tls_ca_file": str(trust.ca_path)}
        gate.start()
        notary = NotaryCLI(workdir / "notary", server_url=trust.url, ca_path=trust.ca_path)
        yield Setup(registry, trust, gate, notary, Skopeo(workdir / "skopeo"), workdir)
    finally:
        gate.stop()
        trust.stop()
        registry.stop()


def denial_message(stderr: str) -> str:
    """What skopeo printed after ``denied: `` (its log line ends with the closing quote).

    skopeo 1.9 prints, e.g.: ``time="…" level=fatal msg="Error initializing source
    docker://127.0.0.1:PORT/prod/app:unsigned: reading manifest unsigned in
    127.0.0.1:PORT/prod/app: denied: content trust: …"``
    """
    assert "denied: " in stderr, stderr
    return stderr.split("denied: ", 1)[1].strip().removesuffix('"')


def test_signed_tag_is_pulled_and_unsigned_tag_refused(setup: Setup) -> None:
    image = setup.image("a", "latest", "signed content a")
    setup.push(image, "prod/app", "v1")
    setup.push(image, "prod/app", "unsigned")
    setup.sign("prod/app", "v1", image)

    status, stderr = setup.pull("prod/app:v1")
    assert status == 0, stderr

    status, stderr = setup.pull("prod/app:unsigned")
    assert status != 0
    gun = setup.gun("prod/app")
    assert denial_message(stderr) == (
        f"content trust: {gun}:unsigned is not signed: "
        "no signed tag 'unsigned' in targets/releases or targets"
    )
    records = [r for r in setup.gate.denials() if r.get("reference") == "unsigned"]
    assert records, setup.gate.log()
    assert records[-1]["reason"] == "unsigned"
    assert records[-1]["gun"] == gun


def test_tag_repushed_after_signing_is_refused(setup: Setup) -> None:
    signed = setup.image("b1", "latest", "what was signed")
    other = setup.image("b2", "latest", "what replaced it")
    setup.push(signed, "prod/retag", "v1")
    setup.sign("prod/retag", "v1", signed)
    assert setup.pull("prod/retag:v1")[0] == 0
    setup.push(other, "prod/retag", "v1")

    status, stderr = setup.pull("prod/retag:v1")
    assert status != 0
    assert denial_message(stderr) == (
        f"content trust: {setup.gun('prod/retag')}:v1 is signed as {signed.digest}, "
        f"but the registry serves {other.digest}"
    )


def test_by_digest_of_a_signed_tag_is_pulled(setup: Setup) -> None:
    signed = setup.image("c1", "latest", "pinned by digest")
    unsigned = setup.image("c2", "latest", "never signed")
    setup.push(signed, "prod/digest", "v1")
    setup.push(unsigned, "prod/digest", "other")
    setup.sign("prod/digest", "v1", signed)

    status, stderr = setup.pull(f"prod/digest@{signed.digest}")
    assert status == 0, stderr
    status, stderr = setup.pull(f"prod/digest@{unsigned.digest}")
    assert status != 0
    assert "is not signed: no signed tag of" in denial_message(stderr)


def test_revoked_tag_is_refused_within_max_age(setup: Setup) -> None:
    image = setup.image("d", "latest", "to be revoked")
    setup.push(image, "prod/revoke", "v1")
    setup.sign("prod/revoke", "v1", image)
    assert setup.pull("prod/revoke:v1")[0] == 0

    gun = setup.gun("prod/revoke")
    setup.notary.run("remove", gun, "v1")
    setup.notary.run("publish", gun)
    outcomes = []
    stderr = ""
    for _ in range(REVOCATION_POLLS):
        status, stderr = setup.pull("prod/revoke:v1")
        outcomes.append(status)
        if status != 0:
            break
        time.sleep(MAX_AGE / 4)
    assert outcomes[-1] != 0, f"still pulled after {len(outcomes)} tries"
    assert "is not signed" in denial_message(stderr)


def test_repository_outside_the_prefixes_is_untouched(setup: Setup) -> None:
    image = setup.image("e", "latest", "not enforced")
    setup.push(image, "dev/app", "v1")
    status, stderr = setup.pull("dev/app:v1")
    assert status == 0, stderr


def test_pushes_and_other_requests_pass_through(setup: Setup) -> None:
    image = setup.image("f", "latest", "pushed through the gate")
    setup.push(image, "prod/pushed", "v1", via=setup.gate.address)  # uploads pass through
    status, _, body = http("GET", f"{setup.gate.url}/v2/prod/pushed/tags/list")
    assert (status, json.loads(body)["tags"]) == (200, ["v1"])
    status, _, body = http("GET", f"{setup.gate.url}/v2/_catalog")
    assert status == 200
    assert "prod/pushed" in json.loads(body)["repositories"]
    # The manifest is unsigned: a HEAD is refused like a GET, with no body.
    status, _, body = http(
        "HEAD", f"{setup.gate.url}/v2/prod/pushed/manifests/v1", {"Accept": OCI_MANIFEST}
    )
    assert (status, body) == (412, b"")


def test_signed_head_matches_the_registry(setup: Setup) -> None:
    image = setup.image("g", "latest", "head request")
    setup.push(image, "prod/head", "v1")
    setup.sign("prod/head", "v1", image)
    accept = {"Accept": OCI_MANIFEST}
    status, headers, body = http("HEAD", f"{setup.gate.url}/v2/prod/head/manifests/v1", accept)
    _, direct, _ = http("HEAD", f"{setup.registry.url}/v2/prod/head/manifests/v1", accept)
    assert (status, body) == (200, b"")
    assert headers["Content-Length"] == direct["Content-Length"] == str(len(image.manifest))
    assert headers["Docker-Content-Digest"] == image.digest


def test_health_and_metrics(setup: Setup) -> None:
    status, _, body = http("GET", f"{setup.gate.url}/health")
    assert (status, json.loads(body)) == (200, {"registry": "ok", "trust_server": "ok"})
    status, _, body = http("GET", f"{setup.gate.url}/metrics")
    assert status == 200
    assert b"notary_gate_manifest_decisions_total" in body


def test_trust_server_down_fails_closed(setup: Setup) -> None:
    image = setup.image("h", "latest", "trust server down")
    setup.push(image, "prod/down", "v1")
    setup.sign("prod/down", "v1", image)
    dead = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    port = free_port()
    gate = GateProcess(
        setup.workdir / "gate-down",
        {
            "registry": {"url": setup.registry.url, "name": setup.gate.address},
            "trust_server": {"url": dead, "tls_ca_file": str(setup.trust.ca_path)},
            "enforce": [f"{setup.gate.address}/prod/"],
        },
    )
    gate.port = port
    gate.start()
    try:
        status, stderr = setup.pull("prod/down:v1", gate=gate)
        assert status != 0
        message = denial_message(stderr)
        assert message.startswith(
            f"content trust: cannot verify {setup.gun('prod/down')}:v1: "
            "the trust server is unavailable ("
        ), message
        status, _, body = http("GET", f"{gate.url}/health")
        assert status == 503
        assert json.loads(body)["registry"] == "ok"
        assert json.loads(body)["trust_server"] != "ok"
    finally:
        gate.stop()


def test_docker_trust_pull_agrees_with_the_gate(setup: Setup) -> None:
    """For each case, the digest docker's DCT pull resolves is the one the gate serves."""
    require_docker_cli()
    docker = DockerTrustPull(
        setup.workdir / "docker", setup.trust.url, setup.trust.port, setup.trust.ca_path
    )
    signed = setup.image("i1", "latest", "agreement: signed")
    replaced = setup.image("i2", "latest", "agreement: replaced")
    setup.push(signed, "prod/agree", "v1")
    setup.push(signed, "prod/agree", "moved")
    setup.push(signed, "prod/agree", "unsigned")
    setup.push(signed, "prod/agree", "revoked")
    setup.sign("prod/agree", "v1", signed)
    setup.sign("prod/agree", "moved", signed, init=False)
    setup.sign("prod/agree", "revoked", signed, init=False)
    setup.push(replaced, "prod/agree", "moved")  # retagged after signing
    gun = setup.gun("prod/agree")
    setup.notary.run("remove", gun, "revoked")
    setup.notary.run("publish", gun)
    time.sleep(MAX_AGE * 1.5)  # let the gate's cache from the pushes above expire

    def gate_serves(reference: str) -> bool:
        return setup.pull(reference)[0] == 0

    # Signed: both take the signed digest.
    assert docker.resolve(f"{gun}:v1") == signed.digest
    assert gate_serves("prod/agree:v1")
    # Retagged: docker pulls what was signed by digest; the gate refuses the tag, serves that.
    assert docker.resolve(f"{gun}:moved") == signed.digest
    assert not gate_serves("prod/agree:moved")
    assert gate_serves(f"prod/agree@{signed.digest}")
    # Unsigned and revoked: both refuse.
    for tag in ("unsigned", "revoked"):
        assert docker.resolve(f"{gun}:{tag}") is None, tag
        assert not gate_serves(f"prod/agree:{tag}"), tag


def test_gate_serves_tls(setup: Setup) -> None:
    image = setup.image("j", "latest", "over tls")
    setup.push(image, "prod/tls", "v1")
    setup.sign("prod/tls", "v1", image)
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    tls_dir = setup.workdir / "gate-tls"
    tls_dir.mkdir()
    issued.cert_chain_pems[0].write_to_path(str(tls_dir / "gate.crt"))
    issued.private_key_pem.write_to_path(str(tls_dir / "gate.key"))
    gate = GateProcess(
        tls_dir,
        setup.gate.config | {"server": {"tls_cert_file": "gate.crt", "tls_key_file": "gate.key"}},
    )
    gate.scheme = "https"
    gate.start()
    try:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        status, _, body = http("GET", f"{gate.url}/health", context=context)
        assert (status, json.loads(body)["trust_server"]) == (200, "ok")
        status, stderr = setup.pull("prod/tls:v1", gate=gate)  # skopeo tries https first
        assert status == 0, stderr
    finally:
        gate.stop()
