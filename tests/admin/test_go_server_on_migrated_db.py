"""Go's notary-server still works on a database carrying migration 0004 (nullable columns).

Go writes changefeed records without an actor; our admin commands read them,
and the changefeed shows no ``Actor`` for them.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import TYPE_CHECKING

import pytest

from notary_server.storage.migrate import migrate_postgres
from testkit.gotools import GoNotaryServer, NotaryCLI, require_go_tools
from testkit.pg import admin_dsn, require_postgres, throwaway_database
from tests.admin.cli import admin

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.gotools, pytest.mark.postgres]


def test_go_server_on_our_migrated_database(tmp_path: Path) -> None:
    require_go_tools()
    root_dsn = admin_dsn()
    require_postgres(root_dsn)
    gun = f"example.com/go/{secrets.token_hex(4)}"
    with throwaway_database(root_dsn, "notary_admin_go") as dsn:
        assert 4 in asyncio.run(migrate_postgres(dsn))
        storage = {"backend": "postgres", "db_url": f"{dsn}?sslmode=disable"}
        with GoNotaryServer(tmp_path / "go", storage=storage) as go:
            alice = NotaryCLI(tmp_path / "alice", server_url=go.url, ca_path=go.ca_path)
            alice.run("init", gun, "-p")
            status, _, body = go.get(f"/v2/{gun}/_trust/changefeed?records=10")
            assert status == 200, body
            (record,) = json.loads(body)["records"]
            assert record["Category"] == "update"
            assert "Actor" not in record

        config = tmp_path / "server-config.json"
        config.write_text(
            json.dumps(
                {
                    "server": {"http_addr": "127.0.0.1:0"},
                    "trust_service": {"type": "local"},
                    "storage": {"backend": "postgres", "db_url": dsn},
                }
            )
        )
        listing = admin(config, "list")
        assert listing.returncode == 0, listing.stderr
        assert gun in listing.stdout
        show = admin(config, "show", gun)
        assert "update v1\n" in show.stdout  # no actor recorded by Go
        done = admin(config, "purge", "--yes", gun)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "removed: 4 metadata file(s)" in done.stdout
