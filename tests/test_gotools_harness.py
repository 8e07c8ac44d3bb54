"""Tests of the Go reference-tool harness (testkit/gotools/) itself."""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING

import pytest

from testkit import gotools
from testkit.gotools import (
    REFERENCE_GUN,
    REFERENCE_GUN_SERVER_SNAPSHOT,
    GoNotaryServer,
    ReferenceVectors,
    TargetListing,
    Vector,
    cli_factory_for,
    multipart_body,
    parse_target_list,
    reference_vectors,  # noqa: F401 - the session fixture, requested by `ref`
    role_of_label,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

VERSIONED = re.compile(r"^(\d+)\.(.+)$")
gotools_mark = pytest.mark.gotools


def _versioned(vectors: list[Vector], role: str) -> dict[int, Vector]:
    out: dict[int, Vector] = {}
    for vector in vectors:
        match = VERSIONED.match(vector.label)
        if match and match.group(2) == role:
            out[int(match.group(1))] = vector
    return out


# --------------------------------------------------------------------------- pure helpers


def test_multipart_body_matches_go_writer() -> None:
    body, content_type = multipart_body(
        {"root": b"R", "targets/releases": b'{"a":"b"}'}, boundary="b0undary"
    )
    assert content_type == "multipart/form-data; boundary=b0undary"
    assert body == (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="files"; filename="root"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
        b"R\r\n"
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="files"; filename="targets/releases"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
        b'{"a":"b"}\r\n'
        b"--b0undary--\r\n"
    )


def test_parse_target_list() -> None:
    out = (
        "NAME    DIGEST      SIZE (BYTES)    ROLE\n"
        "----    ------      ------------    ----\n"
        "v1      abcd        126             targets\n"
        "v2      ef01        7               targets/releases\n\n"
    )
    assert parse_target_list(out) == [
        TargetListing("v1", "abcd", 126, "targets"),
        TargetListing("v2", "ef01", 7, "targets/releases"),
    ]
    assert parse_target_list("\nNo targets present in this repository.\n\n") == []


@pytest.mark.parametrize(
    ("label", "role"),
    [
        ("timestamp", "timestamp"),
        ("3.root", "root"),
        ("12.targets/releases", "targets/releases"),
        ("targets/releases@" + "a" * 64, "targets/releases"),
        ("snapshot@" + "0" * 64, "snapshot"),
    ],
)
def test_role_of_label(label: str, role: str) -> None:
    assert role_of_label(label) == role


@pytest.mark.parametrize(
    ("ci", "outcome"), [("true", pytest.fail.Exception), ("", pytest.skip.Exception)]
)
def test_missing_tools_skip_or_fail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ci: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(gotools.common, "NOTARY_SERVER_BIN", tmp_path / "absent-notary-server")
    monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="apt-get install"):
        gotools.require_go_tools()


# --------------------------------------------------------------------------- scenario


@pytest.fixture(scope="session")
def ref(reference_vectors: ReferenceVectors) -> ReferenceVectors:  # noqa: F811 - imported fixture
    return reference_vectors


@gotools_mark
def test_scenario_steps_all_ran(ref: ReferenceVectors) -> None:
    main = ref.scenarios[REFERENCE_GUN]
    assert [s.name for s in main.steps] == [
        "init",
        "add-publish",
        "add-p",
        "rotate-snapshot-server",
        "delegation-add",
        "delegation-publish",
        "rotate-timestamp",
        "rotate-targets",
        "rotate-root",
        "add-after-rotation",
        "fresh-list",
    ]
    assert all(s.ok for s in main.steps if s.name != "delegation-publish")


@gotools_mark
def test_every_vector_is_signed_metadata(ref: ReferenceVectors) -> None:
    assert len(ref.vectors) > 50
    for vector in ref.vectors:
        doc = json.loads(vector.data)
        assert set(doc) == {"signed", "signatures"}, vector.label
        assert doc["signed"]["_type"] in {"Root", "Targets", "Snapshot", "Timestamp"}
        assert isinstance(doc["signed"]["version"], int)
        assert doc["signatures"], vector.label
        for sig in doc["signatures"]:
            assert {"keyid", "method", "sig"} <= set(sig)


@gotools_mark
def test_both_sources_present(ref: ReferenceVectors) -> None:
    for gun in (REFERENCE_GUN, REFERENCE_GUN_SERVER_SNAPSHOT):
        for source in ("server", "client-cache"):
            roles = {v.role for v in ref.select(gun=gun, source=source)}
            assert {"root", "targets", "snapshot", "timestamp"} <= roles, (gun, source)


@gotools_mark
def test_root_versions_form_a_chain(ref: ReferenceVectors) -> None:
    roots = _versioned(ref.select(gun=REFERENCE_GUN, source="server"), "root")
    # init, then snapshot / timestamp / targets / root rotations each publish a new root
    assert sorted(roots) == [1, 2, 3, 4, 5]
    for version, vector in roots.items():
        assert vector.version == version
    # the root rotation is signed by both the old and the new root key
    assert len(roots[5].parsed["signatures"]) == 2
    old_ids = set(roots[4].parsed["signed"]["roles"]["root"]["keyids"])
    new_ids = set(roots[5].parsed["signed"]["roles"]["root"]["keyids"])
    assert old_ids.isdisjoint(new_ids)
    assert {s["keyid"] for s in roots[5].parsed["signatures"]} == old_ids | new_ids


@gotools_mark
def test_timestamp_versions_increase(ref: ReferenceVectors) -> None:
    server = ref.select(gun=REFERENCE_GUN, source="server")
    stamps = _versioned(server, "timestamp")
    assert sorted(stamps) == list(range(1, max(stamps) + 1))
    assert max(stamps) >= 9
    for version, vector in stamps.items():
        assert vector.version == version
    current = [v.version for v in server if v.label == "timestamp"]
    assert current == sorted(current)
    assert len(set(current)) == len(current)


@gotools_mark
def test_checksum_labels_match_content(ref: ReferenceVectors) -> None:
    hashed = [v for v in ref.select(source="server") if "@" in v.label]
    assert hashed
    for vector in hashed:
        assert vector.label.split("@", 1)[1] == hashlib.sha256(vector.data).hexdigest()


@gotools_mark
def test_fresh_client_lists_all_targets(ref: ReferenceVectors) -> None:
    main = ref.scenarios[REFERENCE_GUN]
    listing = {t.name: t for t in main.final_listing}
    assert set(listing) == {"v1", "v1b", "v2", "v3"}
    assert listing["v2"].role == "targets/releases"
    assert listing["v1"].role == "targets"
    docker_style = ref.scenarios[REFERENCE_GUN_SERVER_SNAPSHOT]
    assert [t.name for t in docker_style.final_listing] == ["latest"]


@gotools_mark
def test_delegation_publish_outcome(ref: ReferenceVectors) -> None:
    outcome = ref.scenarios[REFERENCE_GUN].delegation
    assert outcome is not None
    probe = json.loads(outcome.probe.body)["errors"][0]
    assert outcome.probe.status == 400
    if outcome.filename_basenamed:  # a Go >= 1.17 build without the notary#1630 fix
        assert probe["code"] == "INVALID_ROLE"
        assert not outcome.cli_ok
    else:
        assert probe["code"] == "MALFORMED_JSON"


@gotools_mark
def test_debian_server_delegation_publish_works(ref: ReferenceVectors) -> None:
    """The Debian build carries the notary#1630 fix: delegation publishes succeed."""
    outcome = ref.scenarios[REFERENCE_GUN].delegation
    assert outcome is not None
    assert not outcome.filename_basenamed
    assert outcome.cli_ok, outcome.cli_output
    assert outcome.server_has_delegation
    served = {
        v.label for v in ref.select(gun=REFERENCE_GUN, role="targets/releases", source="server")
    }
    assert {"targets/releases", "1.targets/releases"} <= served
    cached = {
        v.client
        for v in ref.select(gun=REFERENCE_GUN, role="targets/releases", source="client-cache")
    }
    assert cached == {"alice", "fresh"}  # the Go client never caches its own uploads (bob)


@gotools_mark
def test_server_managed_snapshot_from_first_publish(ref: ReferenceVectors) -> None:
    server = ref.select(gun=REFERENCE_GUN_SERVER_SNAPSHOT, source="server")
    roots = _versioned(server, "root")
    # init without publish made root v1 locally; the rotation's publish is v2
    assert sorted(roots) == [2]
    snapshot_keys = set(roots[2].parsed["signed"]["roles"]["snapshot"]["keyids"])
    snapshots = _versioned(server, "snapshot")
    assert sorted(snapshots) == [1, 2]
    for vector in snapshots.values():
        assert {s["keyid"] for s in vector.parsed["signatures"]} <= snapshot_keys


# --------------------------------------------------------------------------- live server


@pytest.fixture(scope="module")
def go_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoNotaryServer]:
    gotools.require_go_tools()
    with GoNotaryServer(tmp_path_factory.mktemp("go-server")) as server:
        yield server


@gotools_mark
def test_server_health_and_tls(go_server: GoNotaryServer) -> None:
    assert go_server.url.startswith("https://127.0.0.1:")
    status, headers, body = go_server.get("/_notary_server/health")
    assert (status, json.loads(body)) == (200, {})
    assert headers["Content-Type"].startswith("application/json")
    status, _, body = go_server.get_metadata("no/such/gun", "root")
    assert status == 404
    assert json.loads(body)["errors"][0]["code"] == "METADATA_NOT_FOUND"


@gotools_mark
def test_upload_keeps_slashes_in_filenames(go_server: GoNotaryServer, tmp_path: Path) -> None:
    """Role names with ``/`` reach the Debian server verbatim (no basename)."""
    cli = cli_factory_for(go_server, tmp_path)("owner")
    gun = "example.com/harness/upload"
    cli.run("init", gun, "-p")
    targets = cli.cached_metadata(gun)["targets"]
    status, _, body = go_server.upload(gun, {"x/targets/releases": targets})
    assert status == 400
    assert json.loads(body)["errors"][0] == {
        "code": "INVALID_ROLE",
        "message": "The role you are attempting to operate on is invalid.",
        "detail": "x/targets/releases",
    }
    # a well-formed re-upload of what is stored is refused as an old version
    snapshot = cli.cached_metadata(gun)["snapshot"]
    status, _, body = go_server.upload(gun, {"targets": targets, "snapshot": snapshot})
    assert status == 400
    assert json.loads(body)["errors"][0]["code"] == "VERSION"
