"""Helpers for the server API tests: config builder, upload encoding, publishing, store dumps."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient

from notary_server.config import (
    CachingConfig,
    MetadataCacheConfig,
    ServerConfig,
    StorageConfig,
    TrustServiceConfig,
)
from notary_server.storage import NotFoundError
from notary_server.storage.base import Change, MetaStore
from notary_tuf.keys import PublicKey
from notary_tuf.rolenames import ROOT, SNAPSHOT, TARGETS, TIMESTAMP
from testkit.repo_builder import RepoBuilder

AppClient = TestClient[web.Request, web.Application]
ClientFactory = Callable[..., Awaitable[AppClient]]

GUN = "docker.io/library/alpine"
ALL_ROLES = (ROOT, TARGETS, SNAPSHOT, TIMESTAMP)
JSON_CONTENT_TYPE = "application/json; charset=utf-8"


def make_config(
    *,
    gun_prefixes: tuple[str, ...] = (),
    current_max_age: int = 300,
    consistent_max_age: int = 2_592_000,
    metadata_cache: MetadataCacheConfig | None = None,
) -> ServerConfig:
    """A server config built directly (no file), with the local trust service."""
    return ServerConfig(
        host="127.0.0.1",
        port=0,
        tls=None,
        trust_service=TrustServiceConfig(type="local", key_algorithm="ed25519"),
        storage=StorageConfig(backend="memory"),
        caching=CachingConfig(
            current_metadata=current_max_age, consistent_metadata=consistent_max_age
        ),
        gun_prefixes=gun_prefixes,
        metadata_cache=metadata_cache if metadata_cache is not None else MetadataCacheConfig(),
    )


def tuf_url(gun: str, tail: str = "") -> str:
    return f"/v2/{gun}/_trust/tuf/{tail}"


def form(parts: Iterable[tuple[str, bytes]], *, field: str = "files") -> aiohttp.FormData:
    """Multipart parts as the Go client sends them: the filename is the role, octet-stream.

    ``quote_fields=False``: aiohttp would otherwise percent-encode the filename
    (``targets%2Freleases``), which Go's client never does and no server decodes.
    """
    data = aiohttp.FormData(quote_fields=False)
    for index, (filename, body) in enumerate(parts):
        name = field.format(index=index)
        # a file object: aiohttp warns (an error here) about large raw ``bytes`` values
        data.add_field(
            name, io.BytesIO(body), filename=filename, content_type="application/octet-stream"
        )
    return data


def multipart(parts: Mapping[str, bytes]) -> aiohttp.FormData:
    """An upload of role → bytes, as the Go client sends it."""
    return form(parts.items())


async def upload(client: AppClient, gun: str, parts: Mapping[str, bytes]) -> aiohttp.ClientResponse:
    return await client.post(tuf_url(gun), data=multipart(parts))


async def fetch_key(client: AppClient, gun: str, role: str) -> PublicKey:
    response = await client.get(tuf_url(gun, f"{role}.key"))
    assert response.status == 200, await response.text()
    return PublicKey.from_dict(json.loads(await response.read()))


async def new_builder(
    client: AppClient, gun: str = GUN, *, server_snapshot: bool = False
) -> RepoBuilder:
    """A builder listing the server's timestamp key (and snapshot key if server-managed)."""
    timestamp_key = await fetch_key(client, gun, TIMESTAMP)
    snapshot_key = await fetch_key(client, gun, SNAPSHOT) if server_snapshot else None
    return RepoBuilder(gun, timestamp_key=timestamp_key, snapshot_key=snapshot_key)


@dataclass
class Published:
    """A repository published through the API: the builder and what was uploaded."""

    builder: RepoBuilder
    parts: dict[str, bytes]


async def publish_new(
    client: AppClient, gun: str = GUN, *, server_snapshot: bool = False
) -> Published:
    """First publish of a repository with one target; asserts 200."""
    builder = await new_builder(client, gun, server_snapshot=server_snapshot)
    builder.add_target("app", b"release 1\n")
    parts = builder.publish()
    response = await upload(client, gun, parts)
    assert response.status == 200, await response.text()
    builder.accept(parts)
    return Published(builder, parts)


@dataclass(frozen=True)
class StoreDump:
    """Every stored version of the standard roles and the whole changefeed."""

    files: dict[str, list[bytes]]
    changes: list[Change]


async def dump_store(store: MetaStore, gun: str = GUN) -> StoreDump:
    files: dict[str, list[bytes]] = {}
    for role in ALL_ROLES:
        versions = []
        version = 1
        while True:
            try:
                versions.append((await store.get_version(gun, role, version)).data)
            except NotFoundError:
                break
            version += 1
        files[role] = versions
    return StoreDump(files, await store.get_changes(0, 1000, None))


def error_body(code: str, message: str, *, detail: object = None, has_detail: bool) -> bytes:
    """Go's envelope bytes for one error."""
    entry: dict[str, object] = {"code": code, "message": message}
    if has_detail:
        entry["detail"] = detail
    return json.dumps({"errors": [entry]}, separators=(",", ":")).encode() + b"\n"


@dataclass(frozen=True)
class RawResponse:
    """A response read off the socket, for requests the client library would rewrite."""

    status: int
    headers: dict[str, str]
    body: bytes


async def raw_request(client: AppClient, method: str, target: str) -> RawResponse:
    """Send ``method target`` verbatim (no client-side path normalisation)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        request = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)
