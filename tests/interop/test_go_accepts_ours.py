"""Metadata made and signed by ``notary_tuf`` is accepted by the real Go server and CLI.

Each test builds a repository with :class:`~testkit.repo_builder.RepoBuilder`
(only ``notary_tuf``'s public API), uploads it to ``/usr/bin/notary-server`` the
way the Go client does, and has a fresh ``/usr/bin/notary`` client list it: the
client walks timestamp -> snapshot -> root -> targets, checking every hash,
signature, certificate and expiry on our bytes.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import TYPE_CHECKING

import pytest

from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS
from testkit.gotools import (
    GoNotaryServer,
    NotaryCLI,
    Response,
    TargetListing,
    cli_factory_for,
    require_go_tools,
)
from testkit.repo_builder import RepoBuilder, SigningKey, fetch_server_key, version_of

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.gotools

RELEASES = "targets/releases"


@pytest.fixture(scope="module")
def go_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoNotaryServer]:
    require_go_tools()
    with GoNotaryServer(tmp_path_factory.mktemp("interop-server")) as server:
        yield server


def new_gun(label: str) -> str:
    return f"example.com/interop/{label}-{secrets.token_hex(4)}"


def fresh_cli(server: GoNotaryServer, tmp_path: Path, name: str = "reader") -> NotaryCLI:
    return cli_factory_for(server, tmp_path / "clients")(name)


def expect_ok(response: Response) -> None:
    assert response.status == 200, response.body.decode(errors="replace")


def listing_of(contents: dict[str, bytes], role: str) -> set[TargetListing]:
    return {
        TargetListing(name, hashlib.sha256(data).hexdigest(), len(data), role)
        for name, data in contents.items()
    }


def test_client_held_snapshot_publish_and_update(go_server: GoNotaryServer, tmp_path: Path) -> None:
    gun = new_gun("client-snapshot")
    builder = RepoBuilder(gun, timestamp_key=fetch_server_key(go_server, gun, "timestamp"))
    first = {"app-v1": b"first release\n" * 10}
    builder.add_target("app-v1", first["app-v1"])
    parts = builder.publish()
    assert list(parts) == [ROOT, TARGETS, SNAPSHOT]
    expect_ok(go_server.upload(gun, parts))
    builder.accept(parts)

    # the server stores our bytes verbatim
    for role, data in parts.items():
        status, _, body = go_server.get_metadata(gun, role)
        assert (status, body) == (200, data), role

    assert set(fresh_cli(go_server, tmp_path, "first").list_targets(gun)) == listing_of(
        first, TARGETS
    )

    second = {"app-v2": b"second release, somewhat longer\n" * 33}
    builder.add_target("app-v2", second["app-v2"])
    parts = builder.publish()
    assert list(parts) == [TARGETS, SNAPSHOT]
    assert {role: version_of(data) for role, data in parts.items()} == {TARGETS: 2, SNAPSHOT: 2}
    expect_ok(go_server.upload(gun, parts))
    builder.accept(parts)

    rows = fresh_cli(go_server, tmp_path, "second").list_targets(gun)
    assert set(rows) == listing_of(first | second, TARGETS)
    assert len(rows) == 2


def test_server_managed_snapshot(go_server: GoNotaryServer, tmp_path: Path) -> None:
    gun = new_gun("server-snapshot")
    builder = RepoBuilder(
        gun,
        timestamp_key=fetch_server_key(go_server, gun, "timestamp"),
        snapshot_key=fetch_server_key(go_server, gun, "snapshot"),
    )
    content = b"docker-style image manifest\n"
    builder.add_target("latest", content)
    parts = builder.publish()
    assert list(parts) == [ROOT, TARGETS]
    expect_ok(go_server.upload(gun, parts))

    status, _, body = go_server.get_metadata(gun, "snapshot")
    assert status == 200
    snapshot = json.loads(body)
    assert {s["keyid"] for s in snapshot["signatures"]} == {builder.snapshot_public.key_id}
    assert snapshot["signed"]["meta"][TARGETS]["length"] == len(parts[TARGETS])

    rows = fresh_cli(go_server, tmp_path).list_targets(gun)
    assert set(rows) == listing_of({"latest": content}, TARGETS)


def test_delegation(go_server: GoNotaryServer, tmp_path: Path) -> None:
    gun = new_gun("delegation")
    builder = RepoBuilder(gun, timestamp_key=fetch_server_key(go_server, gun, "timestamp"))
    builder.delegate(RELEASES, [SigningKey.generate()], paths=[""])
    top = {"base": b"in targets\n"}
    delegated = {"release-1.0": b"in the releases delegation\n" * 5}
    builder.add_target("base", top["base"])
    builder.add_target("release-1.0", delegated["release-1.0"], role=RELEASES)
    parts = builder.publish(TARGETS, RELEASES)
    assert list(parts) == [ROOT, TARGETS, RELEASES, SNAPSHOT]
    snapshot_meta = json.loads(parts[SNAPSHOT])["signed"]["meta"]
    assert set(snapshot_meta) == {ROOT, TARGETS, RELEASES}
    expect_ok(go_server.upload(gun, parts))

    status, _, body = go_server.get_metadata(gun, RELEASES)
    assert (status, body) == (200, parts[RELEASES])

    cli = fresh_cli(go_server, tmp_path)
    assert set(cli.list_targets(gun, RELEASES)) == listing_of(delegated, RELEASES)
    assert set(cli.list_targets(gun)) == listing_of(top, TARGETS) | listing_of(delegated, RELEASES)


def test_root_rotation(go_server: GoNotaryServer, tmp_path: Path) -> None:
    gun = new_gun("root-rotation")
    builder = RepoBuilder(gun, timestamp_key=fetch_server_key(go_server, gun, "timestamp"))
    content = {"stable": b"before and after the rotation\n"}
    builder.add_target("stable", content["stable"])
    parts = builder.publish()
    expect_ok(go_server.upload(gun, parts))
    builder.accept(parts)

    early = fresh_cli(go_server, tmp_path, "early")  # trusts root v1 from here on
    assert set(early.list_targets(gun)) == listing_of(content, TARGETS)
    assert version_of(early.cached_metadata(gun)[ROOT]) == 1

    old_keys = builder.root_keys
    builder.root_keys = [SigningKey.root(gun)]
    root = builder.root_file(signers=[*old_keys, *builder.root_keys])
    assert version_of(root) == 2
    rotation = {ROOT: root, SNAPSHOT: builder.snapshot_file({ROOT: root})}
    expect_ok(go_server.upload(gun, rotation))
    builder.accept(rotation)

    assert set(early.list_targets(gun)) == listing_of(content, TARGETS)
    cached_root = json.loads(early.cached_metadata(gun)[ROOT])
    assert cached_root["signed"]["version"] == 2
    assert cached_root["signed"]["roles"][ROOT]["keyids"] == [builder.root_keys[0].key_id]
    late = fresh_cli(go_server, tmp_path, "late")
    assert set(late.list_targets(gun)) == listing_of(content, TARGETS)
