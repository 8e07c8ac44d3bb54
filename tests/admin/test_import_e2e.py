"""``admin import`` from the Go notary-server into ours, judged by the real ``notary`` CLI.

The Go server (memory storage, local trust) is seeded by the real CLI with a
root rotation and a delegation, so the import has several root versions and a
delegation to carry over. Afterwards a brand-new client lists the repository
from our server, and the owner's ``notary key rotate GUN timestamp -r`` against
our server makes it fully ours (the imported timestamp is signed by the Go
server's key, which we do not hold).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest

from testkit.gotools import GoNotaryServer, NotaryCLI, make_delegation_key, require_go_tools
from testkit.ourserver import OurNotaryServer, StorageKind
from tests.admin.cli import admin, sql

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.gotools


@pytest.mark.parametrize(
    "storage", ["sqlite3", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_import_from_go_server(storage: StorageKind, tmp_path: Path) -> None:
    require_go_tools()
    gun = f"example.com/imported/{secrets.token_hex(4)}"
    with (
        GoNotaryServer(tmp_path / "go") as go,
        OurNotaryServer(tmp_path / "ours", storage=storage) as ours,
    ):
        owner = NotaryCLI(tmp_path / "owner", server_url=go.url, ca_path=go.ca_path)
        owner.run("init", gun)
        for name in ("v1", "v2"):
            target = tmp_path / f"{name}.bin"
            target.write_bytes(name.encode())
            owner.run("add", gun, name, target)
            owner.run("publish", gun)
        owner.rotate_key(gun, "root")
        owner.run("publish", gun)
        delegate = make_delegation_key(tmp_path / "keys", "releases")
        owner.run("delegation", "add", gun, "targets/releases", delegate.cert_path, "--all-paths")
        owner.run("publish", gun)
        owner.import_key(delegate.key_path, role="targets/releases")
        release = tmp_path / "rel.bin"
        release.write_bytes(b"release")
        owner.run("add", gun, "rel", release, "--roles", "targets/releases")
        owner.run("publish", gun)

        done = admin(ours.config_path, "import", "--from", go.url, "--ca", str(go.ca_path), gun)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{gun}: imported 2 root version(s)" in done.stdout
        assert "1 delegation(s)" in done.stdout
        again = admin(ours.config_path, "import", "--from", go.url, "--ca", str(go.ca_path), gun)
        assert again.returncode == 0, again.stdout
        assert "already imported" in again.stdout
        roles = {role for (role,) in sql(ours, "select role from tuf_files where gun = $1", gun)}
        assert roles == {"root", "targets", "targets/releases", "snapshot", "timestamp"}

        fresh = NotaryCLI(tmp_path / "fresh", server_url=ours.url, ca_path=ours.ca_path)
        assert sorted(row.name for row in fresh.list_targets(gun)) == ["rel", "v1", "v2"]

        # The owner moves over: point the client at our server, take the timestamp key.
        moved = NotaryCLI(owner.basedir, server_url=ours.url, ca_path=ours.ca_path)
        moved.rotate_key(gun, "timestamp", server_managed=True)
        target = tmp_path / "v3.bin"
        target.write_bytes(b"v3")
        moved.run("add", gun, "v3", target)
        moved.run("publish", gun)
        assert sorted(row.name for row in fresh.list_targets(gun)) == ["rel", "v1", "v2", "v3"]
        late = NotaryCLI(tmp_path / "late", server_url=ours.url, ca_path=ours.ca_path)
        assert sorted(row.name for row in late.list_targets(gun)) == ["rel", "v1", "v2", "v3"]


def test_import_refuses_tampered_metadata(tmp_path: Path) -> None:
    require_go_tools()
    gun = f"example.com/imported/{secrets.token_hex(4)}"
    with (
        GoNotaryServer(tmp_path / "go") as go,
        OurNotaryServer(tmp_path / "ours", storage="sqlite3") as ours,
    ):
        missing = admin(ours.config_path, "import", "--from", go.url, "--ca", str(go.ca_path), gun)
        assert missing.returncode == 1
        assert f"{gun}: FAILED:" in missing.stdout
        assert "not found on the source server" in missing.stdout
