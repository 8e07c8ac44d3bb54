"""``admin import`` of repositories the real ``notary`` CLI made on Go's notary-server.

One repository has two root rotations (three root versions), a client-held
snapshot and a delegation two levels deep; another has its snapshot managed by
the Go server. A client that trusted root v1 and a brand-new client both list
them from our server afterwards; running the import again changes nothing, and
after the owner publishes on the old server once more it brings the newer files.
Finally the owner hands the first one over from the notary CLI's trust directory
and publishes to our server, the snapshot now signed by our server.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from testkit.gotools import (
    DEFAULT_PASSPHRASE,
    GoNotaryServer,
    NotaryCLI,
    make_delegation_key,
    no_proxy_env,
    require_go_tools,
)
from testkit.ourserver import OurNotaryServer, StorageKind
from tests.admin.cli import admin, sql

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.gotools


def _add(cli: NotaryCLI, gun: str, name: str, directory: Path, *roles: str) -> None:
    payload = directory / f"{name}.bin"
    payload.write_bytes(name.encode())
    role_args = [arg for role in roles for arg in ("--roles", role)]
    cli.run("add", "-p", gun, name, payload, *role_args)


def hand_over(server: OurNotaryServer, trust_dir: Path, gun: str, *, home: Path) -> str:
    """``python -m notary_server.handover`` with the root key in ``trust_dir``."""
    home.mkdir(exist_ok=True)
    env = no_proxy_env(os.environ) | {
        "HOME": str(home),
        "NOTARY_ROOT_PASSPHRASE": DEFAULT_PASSPHRASE,
    }
    argv = ["--server", server.url, "--tlscacert", str(server.ca_path), "-d", str(trust_dir)]
    proc = subprocess.run(
        [sys.executable, "-m", "notary_server.handover", *argv, gun],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _names(cli: NotaryCLI, gun: str) -> list[str]:
    return sorted(row.name for row in cli.list_targets(gun))


def _delegate_two_levels(owner: NotaryCLI, gun: str, tmp_path: Path) -> None:
    """``targets/releases`` and ``targets/releases/team``, each with a target."""
    keys = tmp_path / "keys"
    releases, team = make_delegation_key(keys, "releases"), make_delegation_key(keys, "team")
    owner.run(
        "delegation",
        "add",
        "-p",
        gun,
        "targets/releases",
        releases.cert_path,
        "--all-paths",
    )
    owner.import_key(releases.key_path, role="targets/releases")
    owner.run(
        "delegation",
        "add",
        "-p",
        gun,
        "targets/releases/team",
        team.cert_path,
        "--all-paths",
    )
    owner.import_key(team.key_path, role="targets/releases/team")
    _add(owner, gun, "rel", tmp_path, "targets/releases")
    _add(owner, gun, "deep", tmp_path, "targets/releases/team")


@pytest.mark.parametrize(
    "storage", ["sqlite3", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_import_three_root_versions_nested_delegations_and_server_snapshot(
    storage: StorageKind, tmp_path: Path
) -> None:
    require_go_tools()
    suffix = secrets.token_hex(4)
    rotated, managed = f"example.com/chain/{suffix}", f"example.com/managed/{suffix}"
    with (
        GoNotaryServer(tmp_path / "go") as go,
        OurNotaryServer(tmp_path / "ours", storage=storage) as ours,
    ):
        owner = NotaryCLI(tmp_path / "owner", server_url=go.url, ca_path=go.ca_path)
        owner.run("init", rotated)
        _add(owner, rotated, "v1", tmp_path)
        early = NotaryCLI(tmp_path / "early", server_url=go.url, ca_path=go.ca_path)
        assert _names(early, rotated) == ["v1"]  # trusts root v1 from now on
        for _ in range(2):
            owner.rotate_key(rotated, "root")
            owner.run("publish", rotated)
        _delegate_two_levels(owner, rotated, tmp_path)

        owner.run("init", managed)
        owner.rotate_key(managed, "snapshot", server_managed=True)
        owner.run("publish", managed)
        _add(owner, managed, "m1", tmp_path)

        guns_file = tmp_path / "guns.txt"
        guns_file.write_text(f"# moved on {suffix}\n{rotated}\n\n{managed}\n")
        source = ("--from", go.url, "--ca", str(go.ca_path))
        done = admin(ours.config_path, "import", *source, "--guns-file", str(guns_file))
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"[1/2] {rotated}: imported 3 root version(s)" in done.stdout
        assert "2 delegation(s)" in done.stdout
        # Its first published root is v2 (init, then the rotation, then the first publish).
        assert f"[2/2] {managed}: imported 1 root version(s)" in done.stdout
        assert "2 repositories: 2 imported, 0 updated, 0 unchanged" in done.stdout
        assert "warning:" not in done.stdout
        roots = sql(ours, "select version from tuf_files where gun = $1 and role = 'root'", rotated)
        assert sorted(v for (v,) in roots) == [1, 2, 3]

        fresh = NotaryCLI(tmp_path / "fresh", server_url=ours.url, ca_path=ours.ca_path)
        assert _names(fresh, rotated) == ["deep", "rel", "v1"]
        assert _names(fresh, managed) == ["m1"]
        moved = NotaryCLI(early.basedir, server_url=ours.url, ca_path=ours.ca_path)
        assert _names(moved, rotated) == ["deep", "rel", "v1"]  # walks root v1 -> v3

        again = admin(ours.config_path, "import", *source, rotated, managed)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "0 imported, 0 updated, 2 unchanged" in again.stdout

        # The old server is still in use for a while: the next run catches up.
        _add(owner, managed, "m2", tmp_path)
        caught = admin(ours.config_path, "import", *source, rotated, managed)
        assert caught.returncode == 0, caught.stdout + caught.stderr
        assert (
            f"{managed}: updated with the source's newer files: 0 root version(s)" in caught.stdout
        )
        assert "0 imported, 1 updated, 1 unchanged" in caught.stdout
        assert _names(fresh, managed) == ["m1", "m2"]

        # The owner hands the repository over from the notary CLI's trust directory.
        handed = hand_over(ours, owner.trust_dir, rotated, home=tmp_path / "home")
        assert f"{rotated}: handed over: published root v3 -> v4" in handed
        mine = NotaryCLI(owner.basedir, server_url=ours.url, ca_path=ours.ca_path)
        _add(mine, rotated, "v2", tmp_path)  # the snapshot is now this server's to sign
        _add(mine, rotated, "deeper", tmp_path, "targets/releases/team")
        assert _names(moved, rotated) == ["deep", "deeper", "rel", "v1", "v2"]
        late = NotaryCLI(tmp_path / "late", server_url=ours.url, ca_path=ours.ca_path)
        assert _names(late, rotated) == ["deep", "deeper", "rel", "v1", "v2"]
