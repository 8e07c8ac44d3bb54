"""Migrating from Go notary: the databases and config files a Go deployment leaves, served by ours.

1. Two PostgreSQL databases get Go's schema the way Go's ``migrations/migrate.sh``
   makes it (Go's own ``.up.sql`` files and golang-migrate's ``schema_migrations``).
2. The Go ``notary-signer`` and ``notary-server`` run on them (remote trust service,
   mutual TLS with certificates from ``scripts/gen_dev_certs.py``), and the real
   ``notary`` CLI populates a repository: ``init -p``, ``add -p``, ``key rotate snapshot
   -r``, a delegation with a target published by its delegate, ``key rotate timestamp -r``.
3. Both stop. Our ``migrate`` runs on each database and must recognise Go's schema:
   Go's versions are not re-run, only our later additive ones (beyond Go: change
   notification, audit columns) are applied, and no row Go wrote changes.
4. Our signer and server start on the same databases with the *same* config files and
   the same passphrase variable. A fresh client lists everything; the old clients
   publish again (targets and the delegation); the timestamps are signed with the key
   the Go signer created, decrypted by ours; no new key is made.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from notary_server.storage.migrate import available_migrations as server_migrations
from notary_signer.keystore.migrate import available_migrations as signer_migrations
from testkit.gotools import (
    NOTARY_SERVER_BIN,
    NOTARY_SIGNER_BIN,
    NotaryCLI,
    free_port,
    make_delegation_key,
    require_go_tools,
)
from testkit.pg import admin_dsn, create_database, drop_database, require_postgres
from tests.deploy.procs import (
    SCRIPTS,
    Service,
    https_health,
    python_module,
    run_checked,
    signer_health,
)
from tests.interop.pairings import go_migrate, with_sslmode
from tests.signer.gosigner import require_go_signer

pytestmark = [pytest.mark.gotools, pytest.mark.postgres, pytest.mark.timeout(600)]

GUN = "example.com/migrated/app"
ALIAS = "timestamp_1"
PASSPHRASE_ENV = {"NOTARY_SIGNER_TIMESTAMP_1": "go-deployment-passphrase-3c9e"}


async def _snapshot(dsn: str, query: str) -> list[tuple[object, ...]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [tuple(row) for row in await conn.fetch(query)]
    finally:
        await conn.close()


def snapshot(dsn: str, query: str) -> list[tuple[object, ...]]:
    return asyncio.run(_snapshot(dsn, query))


SERVER_ROWS = "SELECT id, gun, role, version, sha256 FROM tuf_files ORDER BY id"
CHANGE_ROWS = "SELECT id, gun, version, sha256 FROM changefeed ORDER BY id"
KEY_ROWS = "SELECT key_id, role, gun, passphrase_alias, private FROM private_keys ORDER BY key_id"
VERSION_ROW = "SELECT version, dirty FROM schema_migrations"
GO_VERSIONS = {"notary_signer": 1, "notary_server": 2}  # Go 0.7's last PostgreSQL migrations


@dataclass(frozen=True)
class Deployment:
    """What a Go deployment leaves: two databases, certificates, two config files."""

    workdir: Path
    server_db: str
    signer_db: str
    server_config: Path
    signer_config: Path
    server_port: int
    signer_port: int

    @property
    def certs(self) -> Path:
        return self.workdir / "certs"

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_port}"

    def signer(self, argv: list[str], name: str) -> Service:
        probe = signer_health(
            self.signer_port,
            ca=self.certs / "root-ca.crt",
            cert=self.certs / "notary-client.crt",
            key=self.certs / "notary-client.key",
        )
        return Service(
            name, argv, probe, self.workdir / f"{name}.log", env=PASSPHRASE_ENV, cwd=self.workdir
        )

    def server(self, argv: list[str], name: str) -> Service:
        probe = https_health(self.url, self.certs / "root-ca.crt")
        return Service(name, argv, probe, self.workdir / f"{name}.log", cwd=self.workdir)

    def cli(self, name: str) -> NotaryCLI:
        return NotaryCLI(
            self.workdir / "clients" / name, server_url=self.url, ca_path=self.certs / "root-ca.crt"
        )


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    require_go_tools()
    require_go_signer()
    admin = admin_dsn()
    require_postgres(admin)
    server_db = asyncio.run(create_database(admin, "notary_go_server"))
    signer_db = asyncio.run(create_database(admin, "notary_go_signer"))
    try:
        asyncio.run(go_migrate(server_db, "server"))
        asyncio.run(go_migrate(signer_db, "signer"))
        run_checked([sys.executable, SCRIPTS / "gen_dev_certs.py", "--out", tmp_path / "certs"])
        server_port, signer_port = free_port(), free_port()
        signer_config = tmp_path / "signer-config.json"
        signer_config.write_text(
            json.dumps(
                {
                    "server": {
                        "grpc_addr": f"127.0.0.1:{signer_port}",
                        "tls_cert_file": "certs/notary-signer.crt",
                        "tls_key_file": "certs/notary-signer.key",
                        "client_ca_file": "certs/root-ca.crt",
                    },
                    "logging": {"level": "info"},
                    "storage": {
                        "backend": "postgres",
                        "db_url": with_sslmode(signer_db),
                        "default_alias": ALIAS,
                    },
                },
                indent=2,
            )
        )
        server_config = tmp_path / "server-config.json"
        server_config.write_text(
            json.dumps(
                {
                    "server": {
                        "http_addr": f"127.0.0.1:{server_port}",
                        "tls_cert_file": "certs/notary-server.crt",
                        "tls_key_file": "certs/notary-server.key",
                    },
                    "trust_service": {
                        "type": "remote",
                        "hostname": "127.0.0.1",
                        "port": str(signer_port),
                        "tls_ca_file": "certs/root-ca.crt",
                        "key_algorithm": "ecdsa",
                        "tls_client_cert": "certs/notary-client.crt",
                        "tls_client_key": "certs/notary-client.key",
                    },
                    "logging": {"level": "info"},
                    "storage": {"backend": "postgres", "db_url": with_sslmode(server_db)},
                },
                indent=2,
            )
        )
        yield Deployment(
            tmp_path, server_db, signer_db, server_config, signer_config, server_port, signer_port
        )
    finally:
        asyncio.run(drop_database(admin, server_db))
        asyncio.run(drop_database(admin, signer_db))


def _target(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(f"content of {name}\n".encode() * 8)
    return path


def _timestamp_signer(cli: NotaryCLI) -> str:
    (signature,) = json.loads(cli.cached_metadata(GUN)["timestamp"])["signatures"]
    key_id: str = signature["keyid"]
    return key_id


def _root_timestamp_key(cli: NotaryCLI) -> str:
    root = json.loads(cli.cached_metadata(GUN)["root"])
    (key_id,) = root["signed"]["roles"]["timestamp"]["keyids"]
    return str(key_id)


def test_go_deployment_served_by_ours(deployment: Deployment) -> None:  # noqa: PLR0915
    d = deployment
    files = d.workdir / "files"
    alice, dave = d.cli("alice"), d.cli("dave")

    # --- the Go deployment -------------------------------------------------------------
    go_signer = d.signer([str(NOTARY_SIGNER_BIN), "-config", str(d.signer_config)], "go-signer")
    go_server = d.server([str(NOTARY_SERVER_BIN), "-config", str(d.server_config)], "go-server")
    with go_signer, go_server:
        alice.run("init", GUN, "-p")
        alice.run("add", GUN, "v1", _target(files, "v1.bin"), "-p")
        # Delegates cannot sign the snapshot: the server does (a Go-signer key, too).
        alice.rotate_key(GUN, "snapshot", server_managed=True)
        releases = make_delegation_key(d.workdir / "delegation", "releases")
        alice.run(
            "delegation", "add", GUN, "targets/releases", releases.cert_path, "--all-paths", "-p"
        )
        dave.import_key(releases.key_path, role="targets/releases")
        dave.run("add", GUN, "d1", _target(files, "d1.bin"), "--roles", "targets/releases", "-p")
        first_timestamp_key = _root_timestamp_key(alice)
        alice.rotate_key(GUN, "timestamp", server_managed=True)
        alice.list_targets(GUN)  # refresh alice's cache after the rotation
        go_timestamp_key = _root_timestamp_key(alice)
        assert go_timestamp_key != first_timestamp_key
        assert _timestamp_signer(alice) == go_timestamp_key
    # Go's tools made these rows; nothing below may change or drop any of them.
    go_keys = snapshot(d.signer_db, KEY_ROWS)
    go_files = snapshot(d.server_db, SERVER_ROWS)
    go_changes = snapshot(d.server_db, CHANGE_ROWS)
    assert {row[0] for row in go_keys} >= {first_timestamp_key, go_timestamp_key}
    assert {row[3] for row in go_keys} == {ALIAS}
    assert {row[2] for row in go_files} >= {"root", "targets", "targets/releases", "timestamp"}

    # --- our migrate recognises Go's schemas: it applies only our later, additive versions --
    for module, config, dsn, latest in (
        ("notary_signer", d.signer_config, d.signer_db, signer_migrations("postgresql")),
        ("notary_server", d.server_config, d.server_db, server_migrations("postgresql")),
    ):
        out = run_checked(python_module(module, "migrate", "--config", config)).stdout
        applied = [int(v) for v in re.findall(r"\d+", out)] if "applied" in out else []
        assert applied == [m.version for m in latest if m.version > GO_VERSIONS[module]], out
        assert snapshot(dsn, VERSION_ROW) == [(latest[-1].version, False)]
    assert snapshot(d.signer_db, KEY_ROWS) == go_keys
    assert snapshot(d.server_db, SERVER_ROWS) == go_files
    assert snapshot(d.server_db, CHANGE_ROWS) == go_changes

    # --- ours, on the same databases with the same config files ----------------------------
    our_signer = d.signer(python_module("notary_signer", "--config", d.signer_config), "py-signer")
    our_server = d.server(python_module("notary_server", "--config", d.server_config), "py-server")
    with our_signer, our_server:
        carol = d.cli("carol")  # a fresh client: trusts the root Go's clients published
        listed = {(row.name, row.role) for row in carol.list_targets(GUN)}
        assert listed == {("v1", "targets"), ("d1", "targets/releases")}
        assert _timestamp_signer(carol) == go_timestamp_key

        alice.run("add", GUN, "v2", _target(files, "v2.bin"), "-p")
        dave.run("add", GUN, "d2", _target(files, "d2.bin"), "--roles", "targets/releases", "-p")

        erin = d.cli("erin")
        listed = {(row.name, row.role) for row in erin.list_targets(GUN)}
        assert listed == {
            ("v1", "targets"),
            ("v2", "targets"),
            ("d1", "targets/releases"),
            ("d2", "targets/releases"),
        }
        # New snapshots and timestamps, signed by our signer with the keys the Go signer
        # created (and encrypted under NOTARY_SIGNER_TIMESTAMP_1).
        assert _timestamp_signer(erin) == go_timestamp_key
        assert _root_timestamp_key(erin) == go_timestamp_key
    keys_after = snapshot(d.signer_db, KEY_ROWS)
    assert [row[0] for row in keys_after] == [row[0] for row in go_keys]  # no new key
    versions = {
        (row[2], row[3]) for row in snapshot(d.server_db, SERVER_ROWS) if row[2] == "timestamp"
    }
    go_versions = {(row[2], row[3]) for row in go_files if row[2] == "timestamp"}
    assert versions > go_versions  # ours published new timestamp versions
    assert set(snapshot(d.server_db, CHANGE_ROWS)) > set(go_changes)
