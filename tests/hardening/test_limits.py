"""The ``limits`` section (ADR 0012): each limit, its error, and streaming cut-off.

Oversized bodies are sent over a raw socket from a generator that would
produce 1 GiB; the test counts the bytes the socket accepted before the
server answered and closed, which must be a small fraction of that (no
timing is asserted: the loops are bounded by byte count).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from notary_server.config import ConfigError, load_config
from notary_server.limits import LimitsConfig, RateLimiter
from notary_tuf.rolenames import SNAPSHOT, TARGETS
from testkit.server_helpers import make_config, tuf_url
from tests.hardening.attacks import GUN, Sent, post, publish, published_repo
from tests.hardening.state import error_of, report, store_state

if TYPE_CHECKING:
    from collections.abc import Callable

    from notary_server.config import ServerConfig
    from notary_server.storage.memory import MemoryMetaStore
    from testkit.server_helpers import AppClient, ClientFactory

GIB = 1024**3
CHUNK = 64 * 1024
SMALL = LimitsConfig(max_body_bytes=1024 * 1024, max_metadata_bytes=512 * 1024)


def config_with(limits: LimitsConfig) -> ServerConfig:
    return replace(make_config(), limits=limits)


async def assert_limit(response_status: int, body: bytes, limit: str) -> None:
    assert response_status == 413, body[:300]
    error = json.loads(body)["errors"][0]
    assert error == {
        "code": "TOO_LARGE",
        "message": "The request is larger than this server accepts.",
        "detail": {"limit": limit},
    }


async def stream_upload(
    client: AppClient, head: bytes, chunk: bytes | Callable[[int], bytes], *, total: int = GIB
) -> tuple[int, bytes, int]:
    """POST a chunked multipart body: ``head`` then ``chunk`` repeated up to ``total`` bytes.

    ``chunk`` may be a function of the chunk's index (each ``CHUNK`` bytes long).

    Returns the status, the body of the answer and how many body bytes the
    socket accepted before the server answered (or closed).
    """
    boundary = "hardening"
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    sent = 0

    def frame(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    async def write_body() -> None:
        nonlocal sent
        writer.write(frame(head))
        sent += len(head)
        for index in range(total // CHUNK):  # bounded: at most 1 GiB
            data = chunk(index) if callable(chunk) else chunk
            writer.write(frame(data))
            await writer.drain()
            sent += len(data)

    request = (
        f"POST {tuf_url(GUN)} HTTP/1.1\r\nHost: localhost\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    writer.write(request.encode())
    sender = asyncio.create_task(write_body())
    response = b""
    try:
        for _ in range(1000):  # bounded; the server closes after a limit error
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
    head_bytes, _, body = response.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head_bytes.lower():
        size, _, rest = body.partition(b"\r\n")
        body = rest[: int(size, 16)]
    return status, body, sent


def part_head(filename: str, boundary: str = "hardening") -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


async def test_one_huge_part_is_cut_off_while_streaming(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    client = await make_client(memory_store, config_with(SMALL))
    status, body, sent = await stream_upload(client, part_head("targets"), b"x" * CHUNK)
    await assert_limit(status, body, "max_metadata_bytes")
    report(f"one 1 GiB part: {sent} bytes accepted by the socket before the 413")
    assert sent < 64 * 1024 * 1024  # of 1 GiB: the server stopped reading near 512 KiB
    assert await memory_store.list_guns() == []


async def test_many_parts_are_cut_off_at_the_body_limit(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    client = await make_client(memory_store, config_with(SMALL))

    # Each 64 KiB chunk is a whole part of its own (under the per-part limit),
    # each for a role of its own (a role twice is refused, ADR 0020). Every part
    # is valid JSON ("{}" and blanks), so only the running total stops it.
    def chunk(index: int) -> bytes:
        next_part = b"\r\n" + part_head(f"targets/p{index:07d}")
        return b"{}" + b" " * (CHUNK - 2 - len(next_part)) + next_part

    status, body, sent = await stream_upload(client, part_head("targets"), chunk)
    await assert_limit(status, body, "max_body_bytes")
    report(f"1 GiB of 64 KiB parts: {sent} bytes accepted by the socket before the 413")
    assert sent < 64 * 1024 * 1024


async def test_declared_length_over_the_limit_is_refused_before_reading(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    client = await make_client(memory_store, config_with(SMALL))
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(
            (
                f"POST {tuf_url(GUN)} HTTP/1.1\r\nHost: localhost\r\n"
                "Content-Type: multipart/form-data; boundary=b\r\n"
                f"Content-Length: {GIB}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        response = await reader.read()  # no body byte was sent
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    await assert_limit(int(head.split(b" ", 2)[1]), body, "max_body_bytes")


async def test_too_many_parts(make_client: ClientFactory, memory_store: MemoryMetaStore) -> None:
    client = await make_client(memory_store, config_with(LimitsConfig(max_parts=3)))
    builder = await published_repo(client)  # root, targets, snapshot: three parts
    parts = builder.publish()
    before = await store_state(memory_store)
    more = [("targets/extra-1", b"{}"), ("targets/extra-2", b"{}")]  # no role twice (ADR 0020)
    response = await post(client, Sent([*parts.items(), *more]))
    await assert_limit(response.status, await response.read(), "max_parts")
    assert await store_state(memory_store) == before
    await publish(client, builder)  # three parts at most: still fine


async def test_targets_per_file(make_client: ClientFactory, memory_store: MemoryMetaStore) -> None:
    client = await make_client(memory_store, config_with(LimitsConfig(max_targets_per_file=5)))
    builder = await published_repo(client)  # one target
    for index in range(4):
        builder.add_target(f"t{index}", b"t")
    await publish(client, builder)  # five: at the limit
    builder.add_target("sixth", b"6")
    targets = builder.targets_file()
    before = await store_state(memory_store)
    response = await post(
        client, Sent([(TARGETS, targets), (SNAPSHOT, builder.snapshot_file({TARGETS: targets}))])
    )
    await assert_limit(response.status, await response.read(), "max_targets_per_file")
    assert await store_state(memory_store) == before


async def test_metadata_size_per_role(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    client = await make_client(memory_store, config_with(LimitsConfig(max_metadata_bytes=4096)))
    builder = await published_repo(client)
    for index in range(40):
        builder.add_target(f"target-with-a-long-name-{index:03d}", b"t")
    parts = builder.publish()
    assert len(parts[TARGETS]) > 4096
    response = await post(client, Sent(list(parts.items())))
    await assert_limit(response.status, await response.read(), "max_metadata_bytes")


async def test_changefeed_page_is_capped(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    client = await make_client(memory_store, config_with(LimitsConfig(max_changefeed_records=2)))
    builder = await published_repo(client)
    for index in range(3):
        builder.add_target(f"v{index}", b"v")
        await publish(client, builder)
    for records in ("100", "-100", "0", "2"):
        response = await client.get(f"/v2/_trust/changefeed?records={records}")
        assert response.status == 200
        assert json.loads(await response.read())["count"] == 2, records
    response = await client.get("/v2/_trust/changefeed?records=1")
    assert json.loads(await response.read())["count"] == 1


async def test_rate_limit_answers_429_with_an_envelope(
    make_client: ClientFactory, memory_store: MemoryMetaStore
) -> None:
    # A tiny rate: only the burst of 3 gets through during the test.
    limits = LimitsConfig(rate_per_second=0.001, rate_burst=3)
    client = await make_client(memory_store, config_with(limits))
    statuses = [(await client.get("/v2/")).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    response = await client.get(tuf_url(GUN, "root.json"))
    assert response.status == 429
    assert response.headers["Retry-After"] == "1"
    assert await error_of(response) == {
        "code": "TOOMANYREQUESTS",
        "message": "too many requests",
        "detail": {"limit": "rate.requests_per_second"},
    }
    assert (await client.get("/_notary_server/health")).status == 200  # exempt


def test_token_bucket_refills_and_stays_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(2.0, 2.0, clients=3, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    now[0] = 0.5  # one token back
    assert [limiter.allow("a") for _ in range(2)] == [True, False]
    for client in ("b", "c", "d", "e"):
        limiter.allow(client)
    assert len(limiter._buckets) == 3  # "a" was the least recently seen: forgiven
    assert limiter.allow("a")


def test_rate_limit_is_off_by_default() -> None:
    assert LimitsConfig().rate_per_second == 0
    assert make_config().limits == LimitsConfig()


def _write(tmp_path: Path, extra: dict[str, object]) -> Path:
    path = tmp_path / f"{uuid.uuid4().hex}.json"
    document = {
        "server": {"http_addr": "127.0.0.1:4443"},
        "trust_service": {"type": "local"},
        "storage": {"backend": "memory"},
        **extra,
    }
    path.write_text(json.dumps(document))
    return path


def test_limits_config(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, {}), {})
    assert config.limits == LimitsConfig()
    config = load_config(
        _write(
            tmp_path,
            {"limits": {"max_parts": 7, "rate": {"requests_per_second": 5, "burst": 20}}},
        ),
        {"NOTARY_SERVER_LIMITS_MAX_BODY_BYTES": "2048"},
    )
    assert (config.limits.max_parts, config.limits.max_body_bytes) == (7, 2048)
    assert (config.limits.rate_per_second, config.limits.burst) == (5.0, 20.0)
    assert LimitsConfig(rate_per_second=5).burst == 10
    for bad in ({"max_parts": 0}, {"max_body_bytes": "big"}, {"rate": {"requests_per_second": -1}}):
        with pytest.raises(ConfigError, match="limits"):
            load_config(_write(tmp_path, {"limits": bad}), {})
