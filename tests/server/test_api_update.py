"""Publishing (POST ``/_trust/tuf/``) and reading back (GET metadata), see
docs/protocol.md#publishing, docs/protocol.md#metadata-reads,
docs/protocol.md#cache-headers and docs/protocol.md#update-validation.

Uploads are built with the test-side :class:`~testkit.repo_builder.RepoBuilder`
(the same files the Go client makes); the store is a ``MemoryMetaStore`` whose
contents are compared before and after every rejected upload.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from notary_server.handlers.metadata import format_last_modified
from notary_server.services.updates import VALIDATE_IN_THREAD_BYTES
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from notary_tuf.signed import Metadata
from notary_tuf.validation import MetaUpdate
from testkit.repo_builder import (
    SigningKey,
    flip_first_sig_byte,
    sign_signed,
    signed_of,
    tamper_signatures,
    version_of,
)
from testkit.server_helpers import (
    GUN,
    AppClient,
    ClientFactory,
    Published,
    dump_store,
    form,
    make_config,
    multipart,
    new_builder,
    publish_new,
    tuf_url,
    upload,
)

if TYPE_CHECKING:
    from notary_server.storage.memory import MemoryMetaStore
    from notary_tuf.models import Snapshot, Timestamp

LAST_MODIFIED_RE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul"
    r"|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d UTC$"
)
CURRENT_CACHE = "public, max-age=300, s-maxage=300, must-revalidate"
CONSISTENT_CACHE = "public, max-age=2592000, s-maxage=2592000"
RELEASES = "targets/releases"


async def get_ok(
    client: AppClient, tail: str, gun: str = GUN
) -> tuple[bytes, aiohttp.ClientResponse]:
    response = await client.get(tuf_url(gun, tail))
    assert response.status == 200, await response.text()
    return await response.read(), response


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def assert_consistent(client: AppClient, gun: str = GUN) -> dict[str, bytes]:
    """GET the four current files and check timestamp → snapshot → root/targets hashes."""
    files = {
        role: (await get_ok(client, f"{role}.json", gun))[0]
        for role in (ROOT, TARGETS, SNAPSHOT, TIMESTAMP)
    }
    timestamp: Metadata[Timestamp] = Metadata.from_bytes(TIMESTAMP, files[TIMESTAMP])
    assert timestamp.signed.snapshot_meta.sha256_hex == sha256_hex(files[SNAPSHOT])
    snapshot: Metadata[Snapshot] = Metadata.from_bytes(SNAPSHOT, files[SNAPSHOT])
    for role in (ROOT, TARGETS):
        assert snapshot.signed.meta[role].sha256_hex == sha256_hex(files[role]), role
    return files


# --- successful publishes -----------------------------------------------------------------


async def test_first_publish_client_snapshot(
    client: AppClient, memory_store: MemoryMetaStore
) -> None:
    builder = await new_builder(client)
    builder.add_target("app", b"v1")
    parts = builder.publish()
    assert list(parts) == [ROOT, TARGETS, SNAPSHOT]
    response = await upload(client, GUN, parts)
    assert response.status == 200
    assert await response.read() == b""
    assert response.headers["Content-Length"] == "0"
    assert "Content-Type" not in response.headers

    files = await assert_consistent(client)
    for role, data in parts.items():
        assert files[role] == data, role  # stored and served verbatim
    assert version_of(files[TIMESTAMP]) == 1
    dump = await dump_store(memory_store)
    assert {role: len(v) for role, v in dump.files.items()} == {
        ROOT: 1,
        TARGETS: 1,
        SNAPSHOT: 1,
        TIMESTAMP: 1,
    }
    assert [c.category for c in dump.changes] == ["update"]


async def test_first_publish_server_snapshot(client: AppClient) -> None:
    builder = await new_builder(client, server_snapshot=True)
    builder.add_target("app", b"v1")
    parts = builder.publish()
    assert list(parts) == [ROOT, TARGETS]
    response = await upload(client, GUN, parts)
    assert response.status == 200
    assert await response.read() == b""

    files = await assert_consistent(client)
    assert files[ROOT] == parts[ROOT]
    assert files[TARGETS] == parts[TARGETS]
    snapshot: Metadata[Snapshot] = Metadata.from_bytes(SNAPSHOT, files[SNAPSHOT])
    assert snapshot.version == 1
    assert [s.keyid for s in snapshot.signatures] == [builder.snapshot_public.key_id]


@pytest.mark.parametrize(
    "server_snapshot", [False, True], ids=["client-snapshot", "server-snapshot"]
)
async def test_second_publish_bumps_versions(client: AppClient, server_snapshot: bool) -> None:
    published = await publish_new(client, server_snapshot=server_snapshot)
    builder = published.builder
    if server_snapshot:
        builder.accept({SNAPSHOT: (await get_ok(client, "snapshot.json"))[0]})
    builder.add_target("app2", b"v2")
    parts = builder.publish()
    assert ROOT not in parts
    response = await upload(client, GUN, parts)
    assert response.status == 200, await response.text()

    files = await assert_consistent(client)
    assert {role: version_of(data) for role, data in files.items()} == {
        ROOT: 1,
        TARGETS: 2,
        SNAPSHOT: 2,
        TIMESTAMP: 2,
    }
    assert files[TARGETS] == parts[TARGETS]
    # the old versions stay reachable by version and by checksum
    old_targets = published.parts[TARGETS]
    assert (await get_ok(client, "1.targets.json"))[0] == old_targets
    assert (await get_ok(client, f"targets.{sha256_hex(old_targets)}.json"))[0] == old_targets


async def test_publish_follows_the_chain_past_rows_no_snapshot_names(
    client: AppClient, memory_store: MemoryMetaStore
) -> None:
    """A row newer than what the current snapshot names (written behind the server's
    back) is not the repository's state: the update reads the root the chain names."""
    published = await publish_new(client, server_snapshot=True)
    builder = published.builder
    await memory_store.update_many(
        GUN, [MetaUpdate(role=ROOT, version=99, data=b'{"signed":{"_type":"Root"}}')]
    )
    builder.add_target("app2", b"v2")
    response = await upload(client, GUN, builder.publish())
    assert response.status == 200, await response.text()
    files = await assert_consistent(client)
    assert files[ROOT] == published.parts[ROOT]
    assert {role: version_of(files[role]) for role in (TARGETS, SNAPSHOT, TIMESTAMP)} == {
        TARGETS: 2,
        SNAPSHOT: 2,
        TIMESTAMP: 2,
    }


async def test_delegation_filename_keeps_its_slash(client: AppClient) -> None:
    builder = await new_builder(client)
    builder.delegate(RELEASES, [SigningKey.generate()])
    builder.add_target("rel", b"release", role=RELEASES)
    parts = builder.publish(TARGETS, RELEASES)
    response = await upload(client, GUN, parts)
    assert response.status == 200, await response.text()
    assert (await get_ok(client, f"{RELEASES}.json"))[0] == parts[RELEASES]
    assert (await get_ok(client, f"1.{RELEASES}.json"))[0] == parts[RELEASES]
    checksum = sha256_hex(parts[RELEASES])
    assert (await get_ok(client, f"{RELEASES}.{checksum}.json"))[0] == parts[RELEASES]


@pytest.mark.parametrize("role", [ROOT, TARGETS, SNAPSHOT, TIMESTAMP])
async def test_by_version_and_checksum(client: AppClient, role: str) -> None:
    await publish_new(client)
    current, _ = await get_ok(client, f"{role}.json")
    assert (await get_ok(client, f"1.{role}.json"))[0] == current
    assert (await get_ok(client, f"{role}.{sha256_hex(current)}.json"))[0] == current


async def test_json_suffix_in_filename_is_trimmed(client: AppClient) -> None:
    builder = await new_builder(client)
    parts = builder.publish()
    body = form((f"{role}.json", data) for role, data in parts.items())
    response = await client.post(tuf_url(GUN), data=body)
    assert response.status == 200, await response.text()
    assert (await get_ok(client, "targets.json"))[0] == parts[TARGETS]


async def test_form_field_name_is_ignored(client: AppClient) -> None:
    builder = await new_builder(client)
    parts = builder.publish()
    body = form(parts.items(), field="field{index}")
    response = await client.post(tuf_url(GUN), data=body)
    assert response.status == 200, await response.text()


async def test_same_role_twice_is_refused(client: AppClient, memory_store: MemoryMetaStore) -> None:
    # Go keeps the last part for a role; we refuse the upload whatever the order (ADR 0020).
    builder = await new_builder(client)
    good = builder.publish()
    bad_targets = tamper_signatures(good[TARGETS], flip_first_sig_byte)
    for first, last in ((good[TARGETS], bad_targets), (bad_targets, good[TARGETS])):
        parts = [(ROOT, good[ROOT]), (TARGETS, first), (TARGETS, last), (SNAPSHOT, good[SNAPSHOT])]
        response = await client.post(tuf_url(GUN), data=form(parts))
        assert response.status == 400
        assert json.loads(await response.read())["errors"][0]["code"] == "MALFORMED_UPLOAD"
        assert (await dump_store(memory_store)).files[TARGETS] == []
    response = await upload(client, GUN, good)
    assert response.status == 200, await response.text()


async def test_uploaded_timestamp_is_ignored(
    client: AppClient, memory_store: MemoryMetaStore
) -> None:
    builder = await new_builder(client)
    parts = builder.publish()
    bogus = (
        b'{"signed":{"_type":"Timestamp","version":99,"expires":"2001-01-01T00:00:00Z"},'
        b'"signatures":[]}'
    )
    response = await upload(client, GUN, {**parts, TIMESTAMP: bogus})
    assert response.status == 200, await response.text()
    stored = (await dump_store(memory_store)).files[TIMESTAMP]
    assert len(stored) == 1
    assert stored[0] != bogus
    assert version_of(stored[0]) == 1


# --- cache headers ------------------------------------------------------------------------


def test_last_modified_format() -> None:
    assert (
        format_last_modified(datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC))
        == "Mon, 02 Jan 2006 15:04:05 UTC"
    )
    east = timezone(timedelta(hours=2))
    assert (
        format_last_modified(datetime(2006, 1, 2, 17, 4, 5, tzinfo=east))
        == "Mon, 02 Jan 2006 15:04:05 UTC"
    )


@pytest.mark.parametrize("role", [ROOT, TARGETS, SNAPSHOT, TIMESTAMP])
async def test_cache_headers_current_and_consistent(
    client: AppClient, memory_store: MemoryMetaStore, role: str
) -> None:
    await publish_new(client)
    row = await memory_store.get_current(GUN, role)
    expected_lm = format_last_modified(row.created)
    assert LAST_MODIFIED_RE.match(expected_lm)

    _, current = await get_ok(client, f"{role}.json")
    assert current.headers["Cache-Control"] == CURRENT_CACHE
    assert current.headers["Last-Modified"] == expected_lm
    assert "Pragma" not in current.headers

    for tail in (f"1.{role}.json", f"{role}.{sha256_hex(row.data)}.json"):
        _, consistent = await get_ok(client, tail)
        assert consistent.headers["Cache-Control"] == CONSISTENT_CACHE
        assert consistent.headers["Last-Modified"] == expected_lm
        assert "Pragma" not in consistent.headers


@pytest.mark.parametrize(
    ("current_age", "consistent_age", "current_cc", "consistent_cc"),
    [
        (0, 0, "max-age=0, no-cache, no-store", "max-age=0, no-cache, no-store"),
        (0, 60, "max-age=0, no-cache, no-store", "public, max-age=60, s-maxage=60"),
        (
            10,
            0,
            "public, max-age=10, s-maxage=10, must-revalidate",
            "max-age=0, no-cache, no-store",
        ),
    ],
    ids=["both-off", "current-off", "consistent-off"],
)
async def test_cache_max_age_config(
    make_client: ClientFactory,
    current_age: int,
    consistent_age: int,
    current_cc: str,
    consistent_cc: str,
) -> None:
    client = await make_client(
        make_config(current_max_age=current_age, consistent_max_age=consistent_age)
    )
    await publish_new(client)
    for tail, expected in (("root.json", current_cc), ("1.root.json", consistent_cc)):
        _, response = await get_ok(client, tail)
        assert response.headers["Cache-Control"] == expected, tail
        if expected.startswith("max-age=0"):
            assert response.headers["Pragma"] == "no-cache"
        else:
            assert "Pragma" not in response.headers
        assert LAST_MODIFIED_RE.match(response.headers["Last-Modified"])


@pytest.mark.parametrize(
    "tail", ["root.json", "1.root.json", f"root.{'0' * 64}.json", "timestamp.key"], ids=str
)
async def test_no_cache_headers_on_errors_and_keys(client: AppClient, tail: str) -> None:
    response = await client.get(tuf_url("nothing/here", tail))
    assert "Cache-Control" not in response.headers
    assert "Last-Modified" not in response.headers


# --- rejected uploads ---------------------------------------------------------------------

NEW_GUN = "example.com/new/repo"


@dataclass(frozen=True)
class BadUpload:
    """What to send (built from a repository already published at GUN) and what Go answers."""

    build: Callable[[Published], tuple[str, Any, dict[str, str]]]
    status: int
    code: str
    detail: Any = ...  # Ellipsis: no detail expected
    detail_name: str | None = None  # for INVALID_UPDATE: just check detail["Name"]


def _post(parts: dict[str, bytes], gun: str = GUN) -> tuple[str, Any, dict[str, str]]:
    return gun, multipart(parts), {}


def _raw(body: bytes, content_type: str) -> tuple[str, Any, dict[str, str]]:
    return GUN, body, {"Content-Type": content_type}


BOUNDARY = "xYzZY"


def _multipart_bytes(*parts: tuple[str | None, bytes], close: bool = True) -> bytes:
    out = b""
    for filename, data in parts:
        disposition = 'form-data; name="files"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += (
            f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
        )
    if close:
        out += f"--{BOUNDARY}--\r\n".encode()
    return out


MULTIPART_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _next_parts(pub: Published) -> dict[str, bytes]:
    pub.builder.add_target("next", b"next")
    return pub.builder.publish()


def _bad_signature(pub: Published) -> tuple[str, Any, dict[str, str]]:
    pub.builder.add_target("next", b"next")
    targets = tamper_signatures(pub.builder.targets_file(), flip_first_sig_byte)
    return _post({TARGETS: targets, SNAPSHOT: pub.builder.snapshot_file({TARGETS: targets})})


def _no_root_new_repo(pub: Published) -> tuple[str, Any, dict[str, str]]:
    parts = pub.builder.publish()  # root already "held" by the builder: no root part
    assert ROOT not in parts
    return _post(parts, NEW_GUN)


def _no_snapshot(pub: Published) -> tuple[str, Any, dict[str, str]]:
    parts = _next_parts(pub)
    del parts[SNAPSHOT]
    return _post(parts)


BAD_UPLOADS = {
    "not-multipart": BadUpload(
        lambda _: _raw(b'{"a":1}', "application/json"), 400, "MALFORMED_UPLOAD"
    ),
    "no-content-type": BadUpload(lambda _: _raw(b"", ""), 400, "MALFORMED_UPLOAD"),
    "no-boundary": BadUpload(lambda _: _raw(b"x", "multipart/form-data"), 400, "MALFORMED_UPLOAD"),
    "truncated": BadUpload(
        lambda p: _raw(
            _multipart_bytes((TARGETS, _next_parts(p)[TARGETS]), close=False)[:-40], MULTIPART_TYPE
        ),
        400,
        "MALFORMED_UPLOAD",
    ),
    "no-filename": BadUpload(
        lambda p: _raw(_multipart_bytes((None, _next_parts(p)[TARGETS])), MULTIPART_TYPE),
        400,
        "NO_FILENAME",
    ),
    "filename-only-suffix": BadUpload(
        lambda p: _raw(_multipart_bytes((".json", _next_parts(p)[TARGETS])), MULTIPART_TYPE),
        400,
        "NO_FILENAME",
    ),
    "unknown-role": BadUpload(lambda _: _post({"foo": b"{}"}), 400, "INVALID_ROLE", "foo"),
    "dot-dot-role": BadUpload(
        lambda _: _post({"targets/../x": b"{}"}), 400, "INVALID_ROLE", "targets/../x"
    ),
    "uppercase-role": BadUpload(
        lambda _: _post({"Targets": b"{}"}), 400, "INVALID_ROLE", "Targets"
    ),
    "bad-role-after-good": BadUpload(
        lambda p: _post({**_next_parts(p), "targets/": b"{}"}), 400, "INVALID_ROLE", "targets/"
    ),
    "not-json": BadUpload(lambda _: _post({TARGETS: b"not json"}), 400, "MALFORMED_JSON"),
    "json-array": BadUpload(lambda _: _post({TARGETS: b"[]"}), 400, "MALFORMED_JSON"),
    "version-string": BadUpload(
        lambda _: _post({TARGETS: b'{"signed":{"version":"2"}}'}), 400, "MALFORMED_JSON"
    ),
    "bad-signature": BadUpload(_bad_signature, 400, "INVALID_UPDATE", detail_name="ErrBadTargets"),
    "rollback": BadUpload(lambda p: _post(p.parts), 400, "VERSION", {}),
    "no-root-new-repo": BadUpload(
        _no_root_new_repo,
        400,
        "INVALID_UPDATE",
        {
            "Name": "ErrValidation",
            "Error": {"Msg": "no pre-existing root and no root provided in update."},
        },
    ),
    "no-snapshot-no-key": BadUpload(
        _no_snapshot,
        400,
        "INVALID_UPDATE",
        {
            "Name": "ErrBadHierarchy",
            "Error": {
                "Missing": "snapshot",
                "Msg": "no snapshot was included in update and server does not hold current "
                "snapshot key for repository",
            },
        },
    ),
}


@pytest.mark.parametrize("case", BAD_UPLOADS.values(), ids=BAD_UPLOADS.keys())
async def test_bad_upload_rejected_store_unchanged(
    client: AppClient, memory_store: MemoryMetaStore, case: BadUpload
) -> None:
    published = await publish_new(client)
    gun, body, headers = case.build(published)
    before = (await dump_store(memory_store, GUN), await dump_store(memory_store, gun))

    response = await client.post(tuf_url(gun), data=body, headers=headers)

    assert response.status == case.status, await response.text()
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    errors = json.loads(await response.read())["errors"]
    assert len(errors) == 1
    assert errors[0]["code"] == case.code
    if case.detail_name is not None:
        assert errors[0]["detail"]["Name"] == case.detail_name
        assert set(errors[0]["detail"]["Error"]) == {"Msg"}
    elif case.detail is ...:
        assert "detail" not in errors[0]
    else:
        assert errors[0]["detail"] == case.detail
    assert (await dump_store(memory_store, GUN), await dump_store(memory_store, gun)) == before


def _unsigned_top_level_key(targets: bytes, _: list[SigningKey]) -> bytes:
    # Cure53 TUF-01-001: outside "signed", so the signatures still verify.
    doc = json.loads(targets)
    doc["unsigned"] = "x"
    return json.dumps(doc, separators=(",", ":")).encode()


def _indented(targets: bytes, _: list[SigningKey]) -> bytes:
    return json.dumps(json.loads(targets), indent=2).encode()


def _unknown_signed_field(targets: bytes, keys: list[SigningKey]) -> bytes:
    signed = signed_of(targets)
    signed["x-extra"] = {"kept": True}
    return sign_signed(signed, keys)


def _expires_trailing_zeros(targets: bytes, keys: list[SigningKey]) -> bytes:
    signed = signed_of(targets)
    signed["expires"] = signed["expires"].removesuffix("Z").split(".")[0] + ".123450Z"
    return sign_signed(signed, keys)


OTHER_LAYOUTS: dict[str, Callable[[bytes, list[SigningKey]], bytes]] = {
    "unsigned-top-level-key": _unsigned_top_level_key,
    "indented": _indented,
    "unknown-signed-field": _unknown_signed_field,
    "expires-trailing-zeros": _expires_trailing_zeros,
}


@pytest.mark.parametrize(
    "server_snapshot", [False, True], ids=["client-snapshot", "server-snapshot"]
)
@pytest.mark.parametrize("relayout", OTHER_LAYOUTS.values(), ids=OTHER_LAYOUTS.keys())
async def test_upload_in_another_layout_is_stored_and_hashed_as_received(
    client: AppClient,
    server_snapshot: bool,
    relayout: Callable[[bytes, list[SigningKey]], bytes],
) -> None:
    """Go accepts these; its server-made snapshot then names its re-serialisation (ADR 0017).

    Ours stores the bytes, serves them, and every hash it computes is over them, so a
    client walking timestamp -> snapshot -> targets finds the file the snapshot names.
    """
    published = await publish_new(client, server_snapshot=server_snapshot)
    builder = published.builder
    builder.add_target("next", b"next")
    targets = relayout(builder.targets_file(), builder.targets_keys)
    assert Metadata.from_bytes(TARGETS, targets).go_bytes() != targets
    parts = {TARGETS: targets}
    if not server_snapshot:
        parts[SNAPSHOT] = builder.snapshot_file(parts)

    response = await upload(client, GUN, parts)

    assert response.status == 200, await response.text()
    files = await assert_consistent(client)
    assert files[TARGETS] == targets


async def test_upload_larger_than_aiohttp_default_body_limit(client: AppClient) -> None:
    # aiohttp's client_max_size (1 MiB) must not cap uploads: big targets files are normal.
    builder = await new_builder(client)
    for index in range(12_000):
        builder.add_target(f"artifact-{index:05d}", b"%d" % index)
    parts = builder.publish()
    assert len(parts[TARGETS]) > 2 * 1024 * 1024
    response = await upload(client, GUN, parts)
    assert response.status == 200, await response.text()
    assert (await get_ok(client, "targets.json"))[0] == parts[TARGETS]


@pytest.fixture
def validations_in_thread(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """How many times ``validate_update`` was handed to a worker thread (one entry each)."""
    handed: list[str] = []
    real = asyncio.to_thread

    async def spy(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        name = getattr(func, "func", func).__name__
        if name == "validate_update":
            handed.append(name)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", spy)
    return handed


async def test_large_upload_is_validated_off_the_event_loop(
    client: AppClient, validations_in_thread: list[str]
) -> None:
    # Issue #14 item 7: a 2 MB file takes a few hundred ms to check; the loop stays free.
    builder = await new_builder(client)
    for index in range(3_000):
        builder.add_target(f"artifact-{index:05d}", b"%d" % index)
    parts = builder.publish()
    assert sum(map(len, parts.values())) > VALIDATE_IN_THREAD_BYTES

    response = await upload(client, GUN, parts)

    assert response.status == 200, await response.text()
    assert validations_in_thread == ["validate_update"]
    builder.accept(parts)
    builder.add_target("one-more", b"x")
    bad = tamper_signatures(builder.targets_file(), flip_first_sig_byte)
    response = await upload(
        client, GUN, {TARGETS: bad, SNAPSHOT: builder.snapshot_file({TARGETS: bad})}
    )
    assert response.status == 400  # a refusal raised in the thread is Go's answer as ever
    assert json.loads(await response.read())["errors"][0]["code"] == "INVALID_UPDATE"
    assert validations_in_thread == ["validate_update", "validate_update"]


async def test_small_upload_is_validated_on_the_loop(
    client: AppClient, validations_in_thread: list[str]
) -> None:
    published = await publish_new(client)
    assert sum(map(len, published.parts.values())) < VALIDATE_IN_THREAD_BYTES
    assert validations_in_thread == []
