"""The admin commands against our running server, with the real ``notary`` CLI before and after.

One server per storage kind (sqlite3, PostgreSQL), each test on its own GUN.
The admin command runs as a separate process on the same database while the
server runs: nothing is restarted.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest

from testkit.gotools import NotaryCLI, require_go_tools
from testkit.ourserver import OurNotaryServer, StorageKind
from tests.admin.cli import admin, changefeed, psql, sql

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.gotools

# What notary 0.7 prints (stdout, exit 1) when the root it trusts was replaced by
# one its keys did not sign: the purged repository, re-initialised by a new owner.
REPLACED_ROOT = (
    "* fatal: could not rotate trust to a new trusted root: "
    "failed to validate data with current trusted certificates"
)


@pytest.fixture(
    scope="module",
    params=["sqlite3", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OurNotaryServer]:
    require_go_tools()
    storage: StorageKind = request.param
    with OurNotaryServer(tmp_path_factory.mktemp(f"admin-{storage}"), storage=storage) as srv:
        yield srv


def new_gun() -> str:
    return f"example.com/admin/{secrets.token_hex(4)}"


def client(server: OurNotaryServer, base: Path, name: str) -> NotaryCLI:
    return NotaryCLI(base / name, server_url=server.url, ca_path=server.ca_path)


def publish(cli: NotaryCLI, gun: str, name: str, *, init: bool = False) -> None:
    if init:
        cli.run("init", gun)
    target = cli.basedir / f"{name}.bin"
    target.write_bytes(f"{gun} {name}\n".encode())
    cli.run("add", gun, name, target)
    cli.run("publish", gun)


def names(cli: NotaryCLI, gun: str) -> list[str]:
    return sorted(row.name for row in cli.list_targets(gun))


def test_purge_lost_keys_and_start_again(server: OurNotaryServer, tmp_path: Path) -> None:
    gun = new_gun()
    alice = client(server, tmp_path, "alice")
    publish(alice, gun, "v1", init=True)
    assert names(alice, gun) == ["v1"]

    dry = admin(server.config_path, "purge", "--dry-run", gun)
    assert dry.returncode == 0, dry.stderr
    assert "would remove" in dry.stdout
    for role in ("root", "targets", "snapshot", "timestamp"):
        assert f"metadata {role} v" in dry.stdout
    assert server.get_metadata(gun, "root").status == 200  # a dry run changes nothing

    refused = admin(server.config_path, "purge", gun)  # stdin is not a terminal
    assert refused.returncode == 2
    assert "refusing to purge without --yes" in refused.stderr
    assert server.get_metadata(gun, "root").status == 200

    done = admin(server.config_path, "purge", "--yes", "--actor", "ops-alice", gun)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "removed: 4 metadata file(s)" in done.stdout
    # The running server sees it at once: no restart.
    for role in ("root", "targets", "snapshot", "timestamp"):
        assert server.get_metadata(gun, role).status == 404
    deletion = changefeed(server, gun)[-1]
    assert deletion["Category"] == "deletion"
    assert deletion["Actor"] == "ops-alice"

    again = admin(server.config_path, "purge", "--yes", gun)
    assert again.returncode == 0, again.stderr
    assert "nothing" in again.stdout

    # A new owner starts again with new keys...
    bob = client(server, tmp_path, "bob")
    publish(bob, gun, "fresh", init=True)
    assert names(client(server, tmp_path, "carol"), gun) == ["fresh"]
    # ...and a client that trusted the old root refuses the replaced one, as Go does.
    refused_root = alice.run("list", gun, check=False)
    assert refused_root.returncode == 1
    assert refused_root.stdout.strip() == REPLACED_ROOT


def test_manual_sql_procedure_needs_no_restart(server: OurNotaryServer, tmp_path: Path) -> None:
    gun = new_gun()
    publish(client(server, tmp_path, "alice"), gun, "v1", init=True)
    assert server.get_metadata(gun, "root").status == 200
    assert server.get_metadata(gun, "timestamp").status == 200
    psql(server, f"delete from tuf_files where gun='{gun}'")  # noqa: S608 - test literal
    for role in ("root", "targets", "snapshot", "timestamp"):
        assert server.get_metadata(gun, role).status == 404, role
    publish(client(server, tmp_path, "bob"), gun, "again", init=True)
    assert names(client(server, tmp_path, "carol"), gun) == ["again"]


def test_gc_keeps_old_and_new_clients_working(server: OurNotaryServer, tmp_path: Path) -> None:
    gun = new_gun()
    alice = client(server, tmp_path, "alice")
    publish(alice, gun, "v1", init=True)
    stale = client(server, tmp_path, "stale")
    assert names(stale, gun) == ["v1"]  # caches version 1 of everything
    for name in ("v2", "v3", "v4"):
        publish(alice, gun, name)
    alice.rotate_key(gun, "root")  # a second root version, which must survive
    publish(alice, gun, "v5")
    before = sql(server, "select count(*) from tuf_files where gun = $1", gun)[0][0]

    dry = admin(server.config_path, "gc", "--keep-versions", "1", "--keep-days", "0", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would delete {gun} targets v" in dry.stdout
    assert sql(server, "select count(*) from tuf_files where gun = $1", gun)[0][0] == before

    done = admin(server.config_path, "gc", "--keep-versions", "1", "--keep-days", "0", gun)
    assert done.returncode == 0, done.stderr
    rows = sql(server, "select role, version from tuf_files where gun = $1", gun)
    roles = sorted(role for role, _ in rows)
    assert roles == ["root", "root", "snapshot", "targets", "timestamp"], rows
    assert len(rows) < before

    expected = ["v1", "v2", "v3", "v4", "v5"]
    assert names(stale, gun) == expected  # old cached metadata: still updates
    assert names(client(server, tmp_path, "fresh"), gun) == expected
    publish(alice, gun, "v6")  # and publishing continues on the pruned history
    assert names(stale, gun) == [*expected, "v6"]


def test_list_show_expiring_and_audit(server: OurNotaryServer, tmp_path: Path) -> None:
    gun = new_gun()
    alice = client(server, tmp_path, "alice")
    publish(alice, gun, "v1", init=True)
    alice.rotate_key(gun, "timestamp", server_managed=True)

    listing = admin(server.config_path, "list")
    assert listing.returncode == 0, listing.stderr
    assert any(line.startswith(gun) and " root " in line for line in listing.stdout.splitlines())

    show = admin(server.config_path, "show", gun)
    assert show.returncode == 0, show.stderr
    assert f"{gun}: " in show.stdout
    assert "update v" in show.stdout
    assert "by anonymous" in show.stdout
    assert "key-rotation by anonymous" in show.stdout

    assert changefeed(server, gun)[0]["Actor"] == "anonymous"

    soon = admin(server.config_path, "expiring", "--within", "30d")
    assert soon.returncode == 0, soon.stderr
    assert gun not in soon.stdout  # fresh repository: 10-year root, 3-year targets
    later = admin(server.config_path, "expiring", "--within", "4000d")
    assert f"{gun}  root" in later.stdout
    assert f"{gun}  targets" in later.stdout
    assert f"{gun}  root-certificate" in later.stdout
