"""``docker-compose.yml``, Dockerfile, ``deploy/`` and ``certs/``, checked without a Docker engine.

What a machine without a daemon can check: the YAML parses and has Go's wiring
(service names, networks, health checks, ``depends_on`` conditions); every file it
mounts or builds from exists; the Dockerfile's ``COPY`` sources exist and its
entrypoints are ``python -m notary_server`` / ``python -m notary_signer``; both
``deploy/`` configs load with our ``load_config`` once ``scripts/gen_dev_certs.py``
has made ``certs/``; the host names and ports agree with the certificates' SANs;
and ``docker compose config`` (or Debian's ``docker-compose config``) accepts the
file. Building the images and running them needs an engine, which CI does not have.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from notary_server.config import load_config as load_server_config
from notary_signer.config import env_name
from notary_signer.config import load_config as load_signer_config
from tests.deploy.procs import REPO, SCRIPTS, run_checked

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
MOUNT_ROOT = "/srv/notary"
PASSPHRASE_VAR = "NOTARY_SIGNER_TIMESTAMP_1"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/ as the containers see it, beside certs/ made by the documented command."""
    root = tmp_path_factory.mktemp("compose")
    shutil.copytree(REPO / "deploy", root / "deploy")
    run_checked([sys.executable, SCRIPTS / "gen_dev_certs.py", "--out", root / "certs"])
    return root


def _services(compose: dict[str, Any]) -> dict[str, Any]:
    services: dict[str, Any] = compose["services"]
    return services


def _networks(service: dict[str, Any]) -> set[str]:
    networks = service.get("networks", [])
    return set(networks if isinstance(networks, list) else networks.keys())


def _depends(service: dict[str, Any]) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in service.get("depends_on", {}).items()}


def _sans(cert_path: Path) -> tuple[set[str], set[str]]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    return set(sans.get_values_for_type(x509.DNSName)), ips


def test_services_are_wired_like_gos_postgres_compose(compose: dict[str, Any]) -> None:
    services = _services(compose)
    assert set(services) == {
        "postgresql",
        "notarysigner-migrate",
        "notarysigner",
        "notaryserver-migrate",
        "notaryserver",
    }
    assert set(compose["networks"]) == {"mdb", "sig"}
    assert _networks(services["notaryserver"]) == {"mdb", "sig"}
    assert _networks(services["notarysigner"]) == {"mdb", "sig"}
    assert _networks(services["postgresql"]) == {"mdb"}
    assert services["notarysigner"]["networks"]["sig"]["aliases"] == ["notarysigner"]
    assert services["notaryserver"]["ports"] == ["4443:4443"]
    assert _depends(services["notarysigner-migrate"]) == {"postgresql": "service_healthy"}
    assert _depends(services["notaryserver-migrate"]) == {"postgresql": "service_healthy"}
    assert _depends(services["notarysigner"]) == {
        "notarysigner-migrate": "service_completed_successfully"
    }
    assert _depends(services["notaryserver"]) == {
        "notaryserver-migrate": "service_completed_successfully",
        "notarysigner": "service_healthy",
    }
    for name in ("postgresql", "notarysigner", "notaryserver"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    for name in ("notarysigner-migrate", "notaryserver-migrate"):
        assert services[name]["command"][0] == "migrate"
        assert services[name]["restart"] == "no"


def test_referenced_files_exist(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        build = service.get("build")
        if build is not None:
            assert (REPO / build["context"] / build.get("dockerfile", "Dockerfile")).is_file()
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {volume}"
        command = service.get("command", [])
        for arg in command:
            if arg.startswith("deploy/"):
                assert (REPO / arg).is_file(), f"{name}: {arg}"
        health = service.get("healthcheck", {}).get("test", [])
        for arg in health:
            if arg.startswith(("scripts/", "deploy/")):
                assert (REPO / arg).is_file(), f"{name}: {arg}"
    assert list((REPO / "deploy" / "postgresql-initdb.d").glob("*.sql"))


def _dockerfile_instructions() -> list[tuple[str, str]]:
    instructions = []
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and not raw.startswith((" ", "\t")):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_copies_existing_sources_and_runs_python_modules(
    compose: dict[str, Any],
) -> None:
    instructions = _dockerfile_instructions()
    stages: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for keyword, rest in instructions:
        if keyword == "FROM":
            current = rest.split(" AS ")[-1].strip() if " AS " in rest else rest
            stages[current] = []
        stages[current].append((keyword, rest))
        if keyword == "COPY":
            *sources, _ = shlex.split(rest)
            for source in sources:
                assert (REPO / source).exists(), source
    assert ("WORKDIR", MOUNT_ROOT) in stages["base"]  # where compose mounts deploy/, certs/
    assert stages["server"][-2] == ("ENTRYPOINT", '["python", "-m", "notary_server"]')
    assert stages["signer"][-2] == ("ENTRYPOINT", '["python", "-m", "notary_signer"]')
    text = DOCKERFILE.read_text() + COMPOSE.read_text()
    for binary in ("notary-server ", "notary-signer ", 'notary-server"', 'notary-signer"'):
        assert binary not in text  # the Go binaries' names are never run
    targets = {s["build"]["target"] for s in _services(compose).values() if "build" in s}
    assert targets == {"server", "signer"}
    for name, service in _services(compose).items():
        if "build" in service:
            expected = "notary_server" if "server" in name else "notary_signer"
            assert service["build"]["target"] == expected.removeprefix("notary_"), name
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ignored[ignored.index("*") :][:1] == ["*"]  # keys and databases never in the context


def test_deploy_configs_load_and_match_the_certificates(
    compose: dict[str, Any], repo_copy: Path
) -> None:
    server = load_server_config(repo_copy / "deploy" / "server-config.json", {})
    signer = load_signer_config(repo_copy / "deploy" / "signer-config.json", {})
    services = _services(compose)
    certs = repo_copy / "certs"

    # The server listens where compose publishes it, with a certificate for its names.
    assert server.port == 4443
    assert server.tls is not None
    assert server.tls.cert_file.resolve() == (certs / "notary-server.crt").resolve()
    dns, ips = _sans(server.tls.cert_file)
    assert {"notaryserver", "localhost"} <= dns
    assert "127.0.0.1" in ips

    # The server reaches the signer by its compose name, on the port it listens on,
    # over a network they share; the signer's certificate carries that name.
    trust = server.trust_service
    assert trust.type == "remote"
    assert trust.hostname in services
    shared = _networks(services["notaryserver"]) & _networks(services[trust.hostname])
    assert "sig" in shared
    assert signer.grpc_addr.rpartition(":")[2] == trust.port
    dns, ips = _sans(signer.tls.cert_file)
    assert {trust.hostname, "localhost"} <= dns
    assert "127.0.0.1" in ips

    # Mutual TLS: the server trusts the CA that issued the signer's certificate, and the
    # signer trusts the CA that issued the server's client certificate.
    assert trust.tls_ca_file is not None
    assert trust.tls_client_cert is not None
    ca = x509.load_pem_x509_certificate(trust.tls_ca_file.read_bytes())
    for leaf in (signer.tls.cert_file, trust.tls_client_cert):
        x509.load_pem_x509_certificate(leaf.read_bytes()).verify_directly_issued_by(ca)
    assert signer.tls.client_ca_file is not None
    assert signer.tls.client_ca_file.resolve() == trust.tls_ca_file.resolve()

    # Both databases live on the compose PostgreSQL, and the roles the init script makes.
    init_sql = "\n".join(
        p.read_text() for p in (REPO / "deploy" / "postgresql-initdb.d").glob("*.sql")
    )
    for config, role, database in (
        (server.storage, "server", "notaryserver"),
        (signer.storage, "signer", "notarysigner"),
    ):
        assert config.backend == "postgres"
        assert f"{role}@postgresql:5432/{database}" in config.db_url
        assert f"CREATE DATABASE {database} OWNER {role};" in init_sql

    # The passphrase variable compose passes is the one the signer reads for its alias.
    assert env_name(signer.storage.default_alias) == PASSPHRASE_VAR
    assert PASSPHRASE_VAR in services["notarysigner"]["environment"]


def test_dev_certs_command(tmp_path: Path) -> None:
    out = tmp_path / "certs"
    run_checked([sys.executable, SCRIPTS / "gen_dev_certs.py", "--out", out])
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "notary-client.crt",
        "notary-client.key",
        "notary-server.crt",
        "notary-server.key",
        "notary-signer.crt",
        "notary-signer.key",
        "root-ca.crt",
    ]
    for key in out.glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert not list(out.glob("root-ca.key"))  # the CA key is never written
    assert _sans(out / "notary-server.crt") == (
        {"notary-server", "notaryserver", "localhost"},
        {str(ipaddress.IPv4Address("127.0.0.1"))},
    )
    assert _sans(out / "notary-signer.crt") == (
        {"notary-signer", "notarysigner", "localhost"},
        {"127.0.0.1"},
    )
    # Existing files are not replaced without --force.
    before = (out / "root-ca.crt").read_bytes()
    proc = subprocess.run(
        [sys.executable, SCRIPTS / "gen_dev_certs.py", "--out", out],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "--force" in proc.stderr
    assert (out / "root-ca.crt").read_bytes() == before
    run_checked([sys.executable, SCRIPTS / "gen_dev_certs.py", "--out", out, "--force"])
    assert (out / "root-ca.crt").read_bytes() != before


def test_generated_material_is_git_ignored(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs in a git clone; git or .git is missing")
        pytest.skip("not a git work tree")
    paths = [
        "certs/notary-server.key",
        "certs/root-ca.crt",
        "notary-data/signer-passphrase",
        ".env",
    ]
    proc = subprocess.run(
        ["git", "check-ignore", *paths, "certs/README.md"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert proc.stdout.split() == paths


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False, timeout=30
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy is not None else None


def test_docker_compose_config_accepts_the_file() -> None:
    command = _compose_command()
    if command is None:
        reason = "neither `docker compose` nor `docker-compose` (apt-get install docker-compose)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    env = {k: v for k, v in os.environ.items() if k != PASSPHRASE_VAR}
    missing = subprocess.run(
        [*command, "-f", COMPOSE, "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    assert missing.returncode != 0  # the signer passphrase is required, not defaulted
    assert PASSPHRASE_VAR in missing.stderr
    env[PASSPHRASE_VAR] = "compose-config-check"
    proc = subprocess.run(
        [*command, "-f", COMPOSE, "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    resolved = yaml.safe_load(proc.stdout)
    assert set(resolved["services"]) == set(yaml.safe_load(COMPOSE.read_text())["services"])
    volumes = str(resolved["services"]["notaryserver"]["volumes"])
    assert str(REPO / "certs") in volumes
    assert f"{MOUNT_ROOT}/certs" in volumes
