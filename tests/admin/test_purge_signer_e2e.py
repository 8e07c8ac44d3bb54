"""``admin purge`` with a real signer behind our server: Go's notary-signer and ours.

Our server runs with ``trust_service.type = remote``. After the real CLI has
published (the signer holds the GUN's timestamp key) and a timestamp key was
rotated (a pending key that never reached a root), the purge deletes the held
key through ``DeleteKey`` and, given ``--signer-config``, every ``private_keys``
row of the GUN; then a new owner starts again with new keys.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
from typing import TYPE_CHECKING, Any

import asyncpg
import pytest

from notary_signer.keystore.migrate import migrate_postgres
from testkit.gotools import NotaryCLI, require_go_tools
from testkit.ourserver import OurNotaryServer
from testkit.pg import admin_dsn, require_postgres, throwaway_database
from tests.admin.cli import admin
from tests.signer.conftest import TLSFiles, tls_files
from tests.signer.gosigner import SignerProcess, require_go_signer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.gotools

ENV = {"NOTARY_SIGNER_TIMESTAMP_1": "purge-test-passphrase"}

__all__ = ["tls_files"]  # the signer tests' session fixture, used here too


class RemoteTrustServer(OurNotaryServer):
    """Our server with its timestamp keys in a signer process."""

    def __init__(self, workdir: Path, signer: SignerProcess, tls: TLSFiles) -> None:
        super().__init__(workdir, storage="sqlite3")
        self.signer = signer
        self.signer_tls = tls

    def _write_config(self, cert_path: Path, key_path: Path) -> None:
        super()._write_config(cert_path, key_path)
        config: dict[str, Any] = json.loads(self.config_path.read_text())
        config["trust_service"] = {
            "type": "remote",
            "hostname": "127.0.0.1",
            "port": str(self.signer.port),
            "tls_ca_file": str(self.signer_tls.ca_file),
            "tls_client_cert": str(self.signer_tls.client_cert_file),
            "tls_client_key": str(self.signer_tls.client_key_file),
            "key_algorithm": "ecdsa",
        }
        self.config_path.write_text(json.dumps(config))


@pytest.fixture(params=["ours-sqlite", pytest.param("go-postgres", marks=pytest.mark.postgres)])
def signer(
    request: pytest.FixtureRequest, tls_files: TLSFiles, tmp_path: Path
) -> Iterator[SignerProcess]:
    require_go_tools()
    if request.param == "ours-sqlite":
        storage = {"backend": "sqlite3", "db_url": str(tmp_path / "signer.db")}
        go = False
        with SignerProcess(
            tmp_path / "signer", tls_files, {**storage, "default_alias": "timestamp_1"}, ENV, go=go
        ) as proc:
            yield proc
        return
    require_go_signer()
    admin_url = admin_dsn()
    require_postgres(admin_url)
    with throwaway_database(admin_url, "notary_signer_purge") as dsn:
        asyncio.run(migrate_postgres(dsn))
        storage = {
            "backend": "postgres",
            "db_url": f"{dsn}?sslmode=disable",
            "default_alias": "timestamp_1",
        }
        with SignerProcess(tmp_path / "signer", tls_files, storage, ENV, go=True) as proc:
            yield proc


def signer_rows(signer: SignerProcess, gun: str) -> list[tuple[str, bool]]:
    """(role, soft-deleted) of every private_keys row of the GUN."""
    config = json.loads(signer.config_path.read_text())["storage"]
    query = "SELECT role, deleted_at IS NOT NULL FROM private_keys WHERE gun = "
    if config["backend"] == "sqlite3":
        conn = sqlite3.connect(config["db_url"])
        try:
            return sorted((r, bool(d)) for r, d in conn.execute(query + "?", (gun,)))
        finally:
            conn.close()

    async def fetch() -> list[tuple[str, bool]]:
        conn = await asyncpg.connect(config["db_url"])
        try:
            return sorted((r[0], bool(r[1])) for r in await conn.fetch(query + "$1", gun))
        finally:
            await conn.close()

    return asyncio.run(fetch())


def test_purge_deletes_signer_keys(
    signer: SignerProcess, tls_files: TLSFiles, tmp_path: Path
) -> None:
    gun = f"example.com/purge/{secrets.token_hex(4)}"
    with RemoteTrustServer(tmp_path / "server", signer, tls_files) as server:
        alice = NotaryCLI(tmp_path / "alice", server_url=server.url, ca_path=server.ca_path)
        alice.run("init", gun, "-p")
        # A rotation leaves a pending key the metadata never names. Go's signer cannot be
        # asked for a key it never handed out, so against it the server first retires
        # the key it got back (signs with it) and asks again: one more row (ADR 0019).
        assert server.request("POST", f"/v2/{gun}/_trust/tuf/timestamp.key").status == 200
        before = signer_rows(signer, gun)
        keys = 3 if signer.go else 2
        assert before.count(("timestamp", False)) == keys, before

        dry = admin(
            server.config_path,
            "purge",
            "--dry-run",
            "--signer-config",
            str(signer.config_path),
            gun,
        )
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert dry.stdout.count("via DeleteKey") == keys  # from the root and the audit log
        assert dry.stdout.count("signer database row") == keys
        assert signer_rows(signer, gun) == before

        done = admin(
            server.config_path, "purge", "--yes", "--signer-config", str(signer.config_path), gun
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert signer_rows(signer, gun) == []
        assert server.get_metadata(gun, "root").status == 404

        bob = NotaryCLI(tmp_path / "bob", server_url=server.url, ca_path=server.ca_path)
        bob.run("init", gun, "-p")
        assert signer_rows(signer, gun) == [("timestamp", False)]  # a brand-new key
        carol = NotaryCLI(tmp_path / "carol", server_url=server.url, ca_path=server.ca_path)
        assert carol.list_targets(gun) == []
