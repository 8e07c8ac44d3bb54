"""Go notary's own fixture configs (``tests/data/go_configs``) load, and start our services.

Each file is copied, unchanged, next to certificates in Go's ``fixtures/`` layout
(``root-ca.crt``; ``notary-server.crt`` and ``notary-signer.crt`` bundled with an
intermediate CA, as ``regenerateTestingCerts.sh`` makes them), issued here by trustme:
no private key is committed. Note that Go's signer configs trust ``notary-server.crt``
(leaf + intermediate) as the client CA, and its server configs present that same
certificate to the signer.

Loading: every file loads with our ``load_config`` except the MySQL and RethinkDB
ones, which fail naming ``storage.backend``. Keys we do not use (``reporting.bugsnag``,
RethinkDB's ``storage.database``/``username``/``password``…) are ignored.

Starting: the memory, sqlite3 and postgres pairs run as processes. What must differ on
this machine (listen addresses, the signer's host name ``notarysigner``, database
URLs) is adapted with Go's own environment overrides (``NOTARY_SERVER_…``,
``NOTARY_SIGNER_…``), as a container deployment would; the signer's alias and
passphrase come from the variables Go's ``signer.Dockerfile`` sets.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import trustme

from notary_server.config import ConfigError as ServerConfigError
from notary_server.config import load_config as load_server_config
from notary_signer.config import load_config as load_signer_config
from notary_signer.errors import ConfigError as SignerConfigError
from testkit.gotools import free_port
from testkit.pg import admin_dsn, create_database, drop_database, require_postgres
from tests.deploy.procs import Service, https_health, python_module, run_checked, signer_health

GO_CONFIGS = Path(__file__).resolve().parents[1] / "data" / "go_configs"
# What Go's signer.Dockerfile sets for the signer (the configs name no alias).
GO_SIGNER_ENV = {
    "NOTARY_SIGNER_DEFAULT_ALIAS": "timestamp_1",
    "NOTARY_SIGNER_TIMESTAMP_1": "testpassword",
}
UNSUPPORTED = {
    "server-config.json": "mysql",
    "signer-config.json": "mysql",
    "server-config.rethink.json": "rethinkdb",
    "signer-config.rethink.json": "rethinkdb",
}


def _write_chain(path: Path, leaf: trustme.LeafCert) -> None:
    path.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))


@pytest.fixture(scope="module")
def go_fixtures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Go's fixture directory: its configs beside freshly issued certificates."""
    directory = tmp_path_factory.mktemp("fixtures")
    root = trustme.CA(organization_name="Notary Testing CA")
    intermediate = root.create_child_ca()
    root.cert_pem.write_to_path(str(directory / "root-ca.crt"))
    for name, sans in (
        ("notary-server", ("notary-server", "notaryserver", "localhost", "127.0.0.1")),
        ("notary-signer", ("notary-signer", "notarysigner", "localhost", "127.0.0.1")),
    ):
        leaf = intermediate.issue_cert(*sans, common_name=name)
        _write_chain(directory / f"{name}.crt", leaf)
        leaf.private_key_pem.write_to_path(str(directory / f"{name}.key"))
    for config in GO_CONFIGS.glob("*.json"):
        shutil.copy(config, directory / config.name)
    return directory


def _load(path: Path, environ: dict[str, str]) -> object:
    if path.name.startswith("server-"):
        return load_server_config(path, environ)
    return load_signer_config(path, {**GO_SIGNER_ENV, **environ})


def _config_names() -> list[str]:
    names = sorted(p.name for p in GO_CONFIGS.glob("*.json"))
    assert len(names) == 9
    return names


@pytest.mark.parametrize("name", _config_names())
def test_go_fixture_config_loads(go_fixtures: Path, name: str) -> None:
    path = go_fixtures / name
    if name in UNSUPPORTED:
        errors = (ServerConfigError, SignerConfigError)
        with pytest.raises(errors, match=r"storage\.backend") as caught:
            _load(path, {})
        assert UNSUPPORTED[name] in str(caught.value)
        return
    config = _load(path, {})
    document = json.loads(path.read_text())
    assert getattr(config, "logging_level", None) == document["logging"]["level"]


def test_keys_we_do_not_use_are_ignored(go_fixtures: Path) -> None:
    server = json.loads((go_fixtures / "server-config.sqlite.json").read_text())
    server["reporting"] = {"bugsnag": {"api_key": "0123", "release_stage": "production"}}
    server["storage"] |= {"database": "notaryserver", "username": "server", "password": "x"}
    server["repositories"] = {"gun_prefixes": ["docker.io/"]}
    server["caching"] = {"max_age": {"current_metadata": 30, "consistent_metadata": 600}}
    path = go_fixtures / "server-config.extra.json"
    path.write_text(json.dumps(server))
    loaded = load_server_config(path, {})
    assert loaded.storage.backend == "sqlite3"
    assert loaded.gun_prefixes == ("docker.io/",)
    assert loaded.caching.current_metadata == 30

    signer = json.loads((go_fixtures / "signer-config.postgres.json").read_text())
    signer["reporting"] = {"bugsnag": {"api_key": "0123"}}
    signer["storage"] |= {"database": "notarysigner", "tls_ca_file": "./rethinkdb/ca.pem"}
    path = go_fixtures / "signer-config.extra.json"
    path.write_text(json.dumps(signer))
    assert load_signer_config(path, GO_SIGNER_ENV).storage.default_alias == "timestamp_1"


@dataclass(frozen=True)
class Pair:
    server: str
    signer: str
    storage: str


PAIRS = [
    pytest.param(
        Pair("server-config-local.json", "signer-config-local.json", "memory"), id="memory"
    ),
    pytest.param(
        Pair("server-config.sqlite.json", "signer-config-local.json", "sqlite3"), id="sqlite3"
    ),
    pytest.param(
        Pair("server-config.postgres.json", "signer-config.postgres.json", "postgres"),
        id="postgres",
        marks=pytest.mark.postgres,
    ),
]


@pytest.fixture
def databases(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """Two throwaway PostgreSQL databases (server, signer) for the postgres pair."""
    if request.node.callspec.id != "postgres":
        yield "", ""
        return
    admin = admin_dsn()
    require_postgres(admin)
    server_db = asyncio.run(create_database(admin, "notary_gocfg_server"))
    signer_db = asyncio.run(create_database(admin, "notary_gocfg_signer"))
    try:
        yield server_db, signer_db
    finally:
        asyncio.run(drop_database(admin, server_db))
        asyncio.run(drop_database(admin, signer_db))


async def _count_keys(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM private_keys")
        return count
    finally:
        await conn.close()


@pytest.mark.parametrize("pair", PAIRS)
def test_go_fixture_configs_start_our_services(
    go_fixtures: Path, tmp_path: Path, pair: Pair, databases: tuple[str, str]
) -> None:
    server_port, signer_port = free_port(), free_port()
    signer_env = {**GO_SIGNER_ENV, "NOTARY_SIGNER_SERVER_GRPC_ADDR": f"127.0.0.1:{signer_port}"}
    server_env = {
        "NOTARY_SERVER_SERVER_HTTP_ADDR": f"127.0.0.1:{server_port}",
        "NOTARY_SERVER_TRUST_SERVICE_HOSTNAME": "127.0.0.1",  # no DNS name notarysigner here
        "NOTARY_SERVER_TRUST_SERVICE_PORT": str(signer_port),
    }
    if pair.storage == "sqlite3":
        server_env["NOTARY_SERVER_STORAGE_DB_URL"] = str(tmp_path / "notary-server.db")
    if pair.storage == "postgres":
        server_env["NOTARY_SERVER_STORAGE_DB_URL"] = databases[0]
        signer_env["NOTARY_SIGNER_STORAGE_DB_URL"] = databases[1]
        run_checked(
            python_module("notary_signer", "migrate", "--config", go_fixtures / pair.signer),
            env={**os.environ, **signer_env},
        )
    if pair.storage != "memory":
        run_checked(
            python_module("notary_server", "migrate", "--config", go_fixtures / pair.server),
            env={**os.environ, **server_env},
        )
    signer = Service(
        "signer",
        python_module("notary_signer", "--config", go_fixtures / pair.signer),
        signer_health(
            signer_port,
            ca=go_fixtures / "root-ca.crt",
            cert=go_fixtures / "notary-server.crt",  # Go's server presents this one, too
            key=go_fixtures / "notary-server.key",
        ),
        tmp_path / "signer.log",
        env=signer_env,
    )
    url = f"https://127.0.0.1:{server_port}"
    server = Service(
        "server",
        python_module("notary_server", "--config", go_fixtures / pair.server),
        https_health(url, go_fixtures / "root-ca.crt"),
        tmp_path / "server.log",
        env=server_env,
    )
    with signer, server:
        # The server asks the signer for a timestamp key over mutual TLS with Go's layout.
        context = ssl.create_default_context(cafile=str(go_fixtures / "root-ca.crt"))
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )
        with opener.open(f"{url}/v2/docker.io/library/x/_trust/tuf/timestamp.key", timeout=10) as r:
            key = json.loads(r.read())
        assert key["keytype"] == "ecdsa"  # key_algorithm from the file
        assert '"level": "debug"' in server.log  # logging.level from the file
    if pair.storage == "postgres":
        assert asyncio.run(_count_keys(databases[1])) == 1


def test_go_configs_are_unchanged_copies() -> None:
    """The copies keep Go's relative certificate paths: only the environment adapts them."""
    for path in GO_CONFIGS.glob("*.json"):
        document = json.loads(path.read_text())
        assert document["server"]["tls_cert_file"].startswith("./"), path.name
