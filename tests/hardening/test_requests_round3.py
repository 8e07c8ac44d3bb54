"""Issue #14 items 4 and 5: a role twice in one upload; the per-file size limit (ADR 0020).

* An upload that names a role in two parts (``targets`` and ``targets.json``
  are one role) is 400 ``MALFORMED_UPLOAD``, whatever the parts hold and in
  whichever order; the second part is never read. Go keeps the last part, so
  what it stores depends on the order of the parts.
* A role file (one part) over ``limits.max_metadata_bytes`` (16 MiB by
  default) is 413 ``TOO_LARGE``, cut off while streaming, before it is parsed;
  one exactly at the limit is stored. Go has no limit at all. The whole-body
  limit still works.

Through the real HTTP API in-process, then against our server as a process
(SQLite) and Go's notary-server (memory). Every refusal leaves the stored state
as it was, and the owner can publish afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiohttp import BodyPartReader

from notary_server.config import load_config
from notary_server.limit_settings import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_METADATA_BYTES,
    LimitsConfig,
)
from notary_tuf.canonical import parse_json
from notary_tuf.keys import PublicKey
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from testkit.gotools import GoNotaryServer, require_go_tools
from testkit.gotools.server import multipart_body
from testkit.ourserver import OurNotaryServer
from testkit.repo_builder import RepoBuilder, SigningKey, version_of
from testkit.server_helpers import make_config, new_builder, tuf_url
from tests.hardening.attacks import (
    GUN,
    RELEASES,
    Sent,
    assert_still_publishable,
    post,
    publish,
    published_repo,
)
from tests.hardening.state import error_of, store_state
from tests.hardening.test_requests_round2_go import assert_publishable, builder_for, code_of

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from notary_server.config import ServerConfig
    from notary_server.storage.memory import MemoryMetaStore
    from testkit.gotools import NotaryServerProcess
    from testkit.gotools.server import Response
    from testkit.server_helpers import AppClient, ClientFactory

MIB = 1024 * 1024
LIMIT = DEFAULT_MAX_METADATA_BYTES
CHUNK = 64 * 1024
GIB = 1024 * MIB
BOUNDARY = "round3"


# ------------------------------------------------------------------ helpers


def padded(document: bytes, size: int) -> bytes:
    """``document`` grown to ``size`` bytes by blanks after its opening brace.

    The blanks lie outside ``signed``, so every signature still holds; the
    server stores and hashes the file as received (ADR 0017).
    """
    assert document.startswith(b"{")
    assert len(document) <= size
    return b"{" + b" " * (size - len(document)) + document[1:]


def parts_body(parts: Sequence[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body as Go's client writes one, from a list: a role may repeat."""
    bodies = [multipart_body({name: data}, BOUNDARY)[0] for name, data in parts]
    closing = f"\r\n--{BOUNDARY}--\r\n".encode()
    inner = b"\r\n".join(body.removesuffix(closing) for body in bodies)
    return inner + closing, f"multipart/form-data; boundary={BOUNDARY}"


def part_head(filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


@dataclass
class Streamed:
    status: int
    body: bytes
    sent: int

    @property
    def error(self) -> dict[str, object]:
        errors = json.loads(self.body)["errors"]
        assert len(errors) == 1, errors
        error: dict[str, object] = errors[0]
        return error


async def stream_post(
    host: str, port: int, gun: str, head: bytes, chunk: bytes, *, total: int = GIB
) -> Streamed:
    """POST a chunked body over plain HTTP: ``head``, then ``chunk`` repeated up to ``total``.

    ``sent`` counts the body bytes the socket took before the server answered
    and closed; the loops are bounded by bytes, not time.
    """
    reader, writer = await asyncio.open_connection(host, port)
    sent = 0

    def frame(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    async def write_body() -> None:
        nonlocal sent
        writer.write(frame(head))
        sent += len(head)
        for _ in range(total // len(chunk)):  # bounded: at most ``total`` bytes
            writer.write(frame(chunk))
            await writer.drain()
            sent += len(chunk)

    writer.write(
        (
            f"POST {tuf_url(gun)} HTTP/1.1\r\nHost: localhost\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
    )
    sender = asyncio.create_task(write_body())
    response = b""
    try:
        async with asyncio.timeout(60):  # a bound, not a timing check: never hang on a break
            for _ in range(1000):  # bounded; the server closes after refusing
                try:
                    block = await reader.read(65536)
                except ConnectionError:  # our writes hit the closed socket: the answer is in
                    break
                if not block:
                    break
                response += block
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head_bytes, _, body = response.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head_bytes.lower():
        size, _, rest = body.partition(b"\r\n")
        body = rest[: int(size, 16)]
    return Streamed(status, body, sent)


def address(client: AppClient) -> tuple[str, int]:
    assert client.server.port is not None
    return client.server.host, client.server.port


def two_versions_of(builder: RepoBuilder, role: str) -> tuple[bytes, bytes]:
    """Two files for ``role``, each valid on its own: same version, different targets."""
    builder.add_target("one", b"1\n", role)
    first = builder.targets_file(role)
    del builder.targets[role]["one"]
    builder.add_target("two", b"2\n", role)
    second = builder.targets_file(role)
    assert version_of(first) == version_of(second)
    assert first != second
    return first, second


def assert_twice(error: dict[str, object], role: str) -> None:
    assert error == {
        "code": "MALFORMED_UPLOAD",
        "message": "The body of your request is malformed.",
        "detail": f"role {role} is in more than one part: send each role once",
    }


def assert_too_large(error: dict[str, object], limit: str) -> None:
    assert error == {
        "code": "TOO_LARGE",
        "message": "The request is larger than this server accepts.",
        "detail": {"limit": limit},
    }


def config_with(limits: LimitsConfig) -> ServerConfig:
    return replace(make_config(), limits=limits)


# ------------------------------------------------------------------ 4: a role twice, in-process


@pytest.mark.parametrize(
    ("role", "names"),
    [
        (TARGETS, (TARGETS, TARGETS)),
        (TARGETS, (TARGETS, "targets.json")),
        (TARGETS, ("targets.json", TARGETS)),
        (RELEASES, (RELEASES, "targets/releases.json")),
    ],
)
@pytest.mark.parametrize("order", ["as-built", "swapped"])
async def test_same_role_twice_is_refused(
    memory_env: tuple[AppClient, MemoryMetaStore],
    role: str,
    names: tuple[str, str],
    order: str,
) -> None:
    client, store = memory_env
    builder = await published_repo(client)
    if role == RELEASES:
        builder.delegate(RELEASES, [SigningKey.generate()])
        await publish(client, builder, TARGETS, RELEASES)
    first, second = two_versions_of(builder, role)
    if order == "swapped":
        first, second = second, first
    # The snapshot matches the last part: Go would store it, and refuse the other order.
    sent = Sent(
        [(names[0], first), (names[1], second), (SNAPSHOT, builder.snapshot_file({role: second}))]
    )
    before = await store_state(store)
    response = await post(client, sent)
    assert response.status == 400
    assert_twice(await error_of(response), role)
    assert await store_state(store) == before
    await assert_still_publishable(client, builder)


async def test_identical_copies_of_a_role_are_refused_too(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    client, store = memory_env
    builder = await published_repo(client)
    builder.add_target("next", b"next\n")
    parts = builder.publish()
    before = await store_state(store)
    sent = Sent(
        [(ROOT, builder.current[ROOT]), *parts.items(), ("root.json", builder.current[ROOT])]
    )
    response = await post(client, sent)
    assert response.status == 400
    assert_twice(await error_of(response), ROOT)
    assert await store_state(store) == before
    await assert_still_publishable(client, builder)


async def test_second_part_for_a_role_is_never_read(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    # The second `targets` part would go on for 1 GiB: it is refused on its
    # headers, and the connection is closed without reading it.
    client, store = memory_env
    builder = await published_repo(client)
    builder.add_target("next", b"next\n")
    targets = builder.targets_file()
    before = await store_state(store)
    head = part_head(TARGETS) + targets + b"\r\n" + part_head("targets.json")
    streamed = await stream_post(*address(client), GUN, head, b" " * CHUNK)
    assert streamed.status == 400
    assert_twice(streamed.error, TARGETS)
    assert streamed.sent < 64 * MIB  # of 1 GiB
    assert await store_state(store) == before
    await assert_still_publishable(client, builder)


# ------------------------------------------------------------------ 5: size, in-process


def test_default_metadata_limit_and_how_to_raise_it(tmp_path: Path) -> None:
    assert LIMIT == 16 * MIB
    document = {"server": {"http_addr": "127.0.0.1:4443"}, "trust_service": {"type": "local"}}
    path = tmp_path / "server.json"
    path.write_text(json.dumps({**document, "storage": {"backend": "memory"}}))
    assert load_config(path, {}).limits.max_metadata_bytes == LIMIT
    raised = {"NOTARY_SERVER_LIMITS_MAX_METADATA_BYTES": str(64 * MIB)}
    assert load_config(path, raised).limits.max_metadata_bytes == 64 * MIB
    path.write_text(
        json.dumps(
            {
                **document,
                "storage": {"backend": "memory"},
                "limits": {"max_metadata_bytes": 32 * MIB},
            }
        )
    )
    assert load_config(path, {}).limits.max_metadata_bytes == 32 * MIB


def test_a_large_real_repository_fits_the_default() -> None:
    # ~200 bytes a target (sha256 + sha512, 25-character names): 10,000 targets
    # weigh ~2 MB, so the default holds some 80,000 in one role.
    builder = RepoBuilder(GUN, timestamp_key=SigningKey.generate().public)
    for index in range(10_000):
        builder.add_target(f"v1.{index // 1000}.{index % 1000}-build{index:06d}", b"%d" % index)
    size = len(builder.targets_file())
    assert 1_900_000 < size < 2_200_000
    assert size * 7 < LIMIT


async def test_part_at_the_limit_is_stored_one_byte_over_is_refused_unparsed(
    memory_env: tuple[AppClient, MemoryMetaStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, store = memory_env  # the default limits
    builder = await new_builder(client, GUN, server_snapshot=True)
    builder.add_target("app", b"release 1\n")
    parts = builder.publish()
    parts[TARGETS] = padded(parts[TARGETS], LIMIT)
    response = await post(client, Sent(list(parts.items())))
    assert response.status == 200, await response.text()
    builder.accept(parts)
    response = await client.get(tuf_url(GUN, "targets.json"))
    assert await response.read() == parts[TARGETS]

    parsed: list[int] = []
    read: list[int] = []
    read_chunk = BodyPartReader.read_chunk

    def counting_parse(data: bytes) -> object:
        parsed.append(len(data))
        return parse_json(data)

    async def counting_read(self: BodyPartReader, size: int = CHUNK) -> bytes:
        chunk = await read_chunk(self, size)
        read.append(len(chunk))
        return chunk

    monkeypatch.setattr("notary_server.multipart.parse_json", counting_parse)
    monkeypatch.setattr(BodyPartReader, "read_chunk", counting_read)
    builder.add_target("next", b"next\n")
    over = padded(builder.targets_file(), LIMIT + 1)
    before = await store_state(store)
    response = await post(client, Sent([(TARGETS, over)]))
    assert response.status == 413
    assert_too_large(await error_of(response), "max_metadata_bytes")
    assert parsed == []  # refused before parsing
    assert LIMIT < sum(read) <= LIMIT + CHUNK  # read up to the chunk that crossed the limit
    assert await store_state(store) == before
    await publish(client, builder)  # the owner's next publish, under the limit


async def test_part_over_the_limit_is_cut_off_while_streaming(
    memory_env: tuple[AppClient, MemoryMetaStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A `targets` part one byte over the limit that then goes on for 1 GiB:
    # the server reads the part up to the chunk that crosses the limit, no
    # further, and closes the connection without reading the rest.
    client, store = memory_env
    builder = await published_repo(client)
    read: list[int] = []
    read_chunk = BodyPartReader.read_chunk

    async def counting_read(self: BodyPartReader, size: int = CHUNK) -> bytes:
        chunk = await read_chunk(self, size)
        read.append(len(chunk))
        return chunk

    monkeypatch.setattr(BodyPartReader, "read_chunk", counting_read)
    before = await store_state(store)
    head = part_head(TARGETS) + b" " * (LIMIT + 1)
    streamed = await stream_post(*address(client), GUN, head, b" " * CHUNK)
    assert streamed.status == 413
    assert_too_large(streamed.error, "max_metadata_bytes")
    assert LIMIT < sum(read) <= LIMIT + CHUNK
    assert streamed.sent < LIMIT + 64 * MIB  # of 1 GiB
    monkeypatch.undo()
    assert await store_state(store) == before
    await assert_still_publishable(client, builder)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_whole_body_limit_still_holds_with_parts_under_the_part_limit(
    make_client: ClientFactory, memory_store: MemoryMetaStore, framing: str
) -> None:
    # Declared up front (Content-Length), or counted as the body streams in (chunked).
    limits = LimitsConfig(max_body_bytes=96 * 1024, max_metadata_bytes=64 * 1024)
    client = await make_client(memory_store, config_with(limits))
    builder = await published_repo(client)
    builder.add_target("next", b"next\n")
    targets = padded(builder.targets_file(), 64 * 1024)  # at the part limit
    snapshot = padded(builder.snapshot_file({TARGETS: targets}), 40 * 1024)
    before = await store_state(memory_store)
    if framing == "content-length":
        response = await post(client, Sent([(TARGETS, targets), (SNAPSHOT, snapshot)]))
        assert response.status == 413
        assert_too_large(await error_of(response), "max_body_bytes")
    else:
        head = part_head(TARGETS) + targets + b"\r\n" + part_head(SNAPSHOT) + snapshot
        end = f"\r\n--{BOUNDARY}--\r\n".encode()
        streamed = await stream_post(*address(client), GUN, head, end, total=len(end))
        assert streamed.status == 413
        assert_too_large(streamed.error, "max_body_bytes")
    assert await store_state(memory_store) == before
    await assert_still_publishable(client, builder)


async def test_declared_body_over_the_default_limit_is_refused_unread(
    memory_env: tuple[AppClient, MemoryMetaStore],
) -> None:
    client, store = memory_env
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(
            (
                f"POST {tuf_url(GUN)} HTTP/1.1\r\nHost: localhost\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
                f"Content-Length: {DEFAULT_MAX_BODY_BYTES + 1}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        async with asyncio.timeout(60):  # a bound, not a timing check: never hang on a break
            response = await reader.read()  # no body byte was sent: answered and closed
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"413"
    assert_too_large(json.loads(body)["errors"][0], "max_body_bytes")
    assert await store.list_guns() == []


# ------------------------------------------------------------------ processes: ours on SQLite, Go's


@pytest.fixture(scope="module")
def go_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GoNotaryServer]:
    require_go_tools()
    with GoNotaryServer(tmp_path_factory.mktemp("go")) as server:
        yield server


@pytest.fixture(scope="module")
def our_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OurNotaryServer]:
    # Plain HTTP, so a body can be streamed over a raw socket; default limits.
    with OurNotaryServer(tmp_path_factory.mktemp("ours"), storage="sqlite3", tls=False) as server:
        yield server


def new_gun(label: str) -> str:
    return f"example.com/round3/{label}-{secrets.token_hex(3)}"


def post_parts(
    server: NotaryServerProcess, gun: str, parts: Sequence[tuple[str, bytes]]
) -> Response:
    body, content_type = parts_body(parts)
    return server.request(
        "POST", f"/v2/{gun}/_trust/tuf/", body=body, headers={"Content-Type": content_type}
    )


def server_snapshot_builder(server: NotaryServerProcess, gun: str) -> RepoBuilder:
    """A builder whose root lists the server's snapshot key: a publish needs no snapshot part."""
    keys = {
        role: PublicKey.from_dict(json.loads(server.get(f"/v2/{gun}/_trust/tuf/{role}.key").body))
        for role in (TIMESTAMP, SNAPSHOT)
    }
    return RepoBuilder(gun, timestamp_key=keys[TIMESTAMP], snapshot_key=keys[SNAPSHOT])


@pytest.mark.gotools
@pytest.mark.parametrize("order", ["as-built", "swapped"])
def test_same_role_twice_against_both_servers(
    go_server: GoNotaryServer, our_server: OurNotaryServer, order: str
) -> None:
    for server in (go_server, our_server):
        gun = new_gun("twice")
        builder = server_snapshot_builder(server, gun)
        first, second = two_versions_of(builder, TARGETS)
        if order == "swapped":
            first, second = second, first
        parts = [(ROOT, builder.root_file()), (TARGETS, first), ("targets.json", second)]
        response = post_parts(server, gun, parts)
        if server is go_server:
            # Go does the wrong thing: it accepts, and stores whichever part came last.
            assert response.status == 200, response
            assert server.get_metadata(gun, TARGETS).body == second
            continue
        assert response.status == 400, response
        assert_twice(json.loads(response.body)["errors"][0], TARGETS)
        assert code_of(server.get_metadata(gun, ROOT)) == "METADATA_NOT_FOUND"
        publish_parts = builder.publish()
        assert server.upload(gun, publish_parts).status == 200
        assert server.get_metadata(gun, TARGETS).body == publish_parts[TARGETS]


@pytest.mark.gotools
def test_part_size_limit_against_both_servers(
    go_server: GoNotaryServer, our_server: OurNotaryServer
) -> None:
    for server in (go_server, our_server):
        gun = new_gun("size")
        builder = builder_for(server, gun)
        parts = builder.publish()
        parts[TARGETS] = padded(parts[TARGETS], LIMIT)
        parts[SNAPSHOT] = builder.snapshot_file({ROOT: parts[ROOT], TARGETS: parts[TARGETS]})
        assert server.upload(gun, parts).status == 200  # at the limit: stored by both
        builder.accept(parts)
        builder.add_target("next", b"next\n")
        over = padded(builder.targets_file(), LIMIT + 1)
        sent = {TARGETS: over, SNAPSHOT: builder.snapshot_file({TARGETS: over})}
        if server is go_server:
            # Go has no limit: one byte over (or 64 MiB over) is stored like any file.
            assert server.upload(gun, sent).status == 200
            assert server.get_metadata(gun, TARGETS).body == over
            continue
        head = part_head(TARGETS) + over  # then the part goes on for up to 1 GiB
        streamed = asyncio.run(stream_post("127.0.0.1", server.port, gun, head, b" " * CHUNK))
        assert streamed.status == 413
        assert_too_large(streamed.error, "max_metadata_bytes")
        assert streamed.sent < LIMIT + 64 * MIB  # of 1 GiB
        assert server.get_metadata(gun, TARGETS).body == parts[TARGETS]  # unchanged
        assert_publishable(server, builder)
