"""The gate's proxy in process, in front of a fake registry, with a scripted verifier.

What the real-parts test cannot easily show: auth challenges, a streamed
upload, an oversized manifest, a registry that lies about a digest or is
down, and the platform manifests of a signed multi-platform index.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pytest_aiohttp import AiohttpClient, AiohttpServer

from notary_gate.children import SignedChildren
from notary_gate.metrics import GateMetrics
from notary_gate.policy import EnforceRule, Policy
from notary_gate.proxy import MAX_MANIFEST_BYTES, GateState, create_app
from notary_gate.verifier import ManifestRef, Verdict

NAME = "registry.example.com"
INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class ScriptedVerifier:
    """Allows exactly the ``(reference, digest)`` pairs in :attr:`signed`."""

    name: str = "scripted"
    signed: set[tuple[str, str]] = field(default_factory=set)
    asked: list[ManifestRef] = field(default_factory=list)

    async def verify(self, manifest: ManifestRef, rule: EnforceRule) -> Verdict:  # noqa: ARG002
        self.asked.append(manifest)
        allowed = (manifest.reference, manifest.digest) in self.signed
        return Verdict(allowed=allowed, reason="signed" if allowed else "unsigned", message="no")

    async def check_health(self) -> str | None:
        return None


@dataclass
class FakeRegistry:
    manifests: dict[tuple[str, str], tuple[bytes, str]] = field(default_factory=dict)
    uploads: list[bytes] = field(default_factory=list)

    def put(self, name: str, reference: str, body: bytes, media_type: str = OCI_MANIFEST) -> None:
        self.manifests[(name, reference)] = (body, media_type)
        self.manifests[(name, digest_of(body))] = (body, media_type)

    async def manifest(self, request: web.Request) -> web.Response:
        name, reference = request.match_info["name"], request.match_info["reference"]
        if name.startswith("private/") and "Authorization" not in request.headers:
            return web.json_response(
                {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="https://auth.example.com/token"'},
            )
        if (name, reference) not in self.manifests:
            return web.json_response({"errors": [{"code": "MANIFEST_UNKNOWN"}]}, status=404)
        body, media_type = self.manifests[(name, reference)]
        return web.Response(
            body=body, content_type=media_type, headers={"Docker-Content-Digest": digest_of(body)}
        )

    async def upload(self, request: web.Request) -> web.Response:
        self.uploads.append(await request.read())
        location = f"{request.headers['X-Forwarded-Proto']}://{request.headers['X-Forwarded-Host']}"
        return web.Response(status=201, headers={"Location": f"{location}/v2/done"})

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/v2/{name:.+}/manifests/{reference}", self.manifest)
        app.router.add_put("/v2/{name:.+}/blobs/uploads/{uuid}", self.upload)
        return app


@dataclass
class Gate:
    client: TestClient[web.Request, web.Application]
    registry: FakeRegistry
    verifier: ScriptedVerifier
    state: GateState


async def _gate(
    aiohttp_client: AiohttpClient, registry_url: str, registry: FakeRegistry
) -> AsyncIterator[Gate]:
    verifier = ScriptedVerifier()
    state = GateState(
        registry_url=registry_url,
        registry_name=NAME,
        policy=Policy(
            [EnforceRule(prefix=f"{NAME}/prod/"), EnforceRule(prefix=f"{NAME}/private/")]
        ),
        metrics=GateMetrics(),
        children=SignedChildren(30.0),
    )
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        state.start(session, verifier)
        client = await aiohttp_client(create_app(state))
        yield Gate(client, registry, verifier, state)


@pytest.fixture
async def gate(aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer) -> AsyncIterator[Gate]:
    registry = FakeRegistry()
    server: TestServer = await aiohttp_server(registry.app())
    async for built in _gate(aiohttp_client, str(server.make_url("")).rstrip("/"), registry):
        yield built


async def test_platform_manifest_of_a_signed_index_is_served(gate: Gate) -> None:
    child = b'{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST.encode() + b'","layers":[]}'
    stray = b'{"schemaVersion":2,"stray":true}'
    index = json.dumps(
        {"schemaVersion": 2, "mediaType": INDEX, "manifests": [{"digest": digest_of(child)}]}
    ).encode()
    gate.registry.put("prod/app", "v1", index, INDEX)
    gate.registry.put("prod/app", "child", child)
    gate.registry.put("prod/app", "stray", stray)
    gate.verifier.signed.add(("v1", digest_of(index)))

    response = await gate.client.get("/v2/prod/app/manifests/v1")
    assert (response.status, await response.read()) == (200, index)
    response = await gate.client.get(f"/v2/prod/app/manifests/{digest_of(child)}")
    assert (response.status, await response.read()) == (200, child)
    assert [m.reference for m in gate.verifier.asked] == ["v1"]  # the child needed no verdict
    response = await gate.client.get(f"/v2/prod/app/manifests/{digest_of(stray)}")
    assert response.status == 412


async def test_auth_challenge_passes_through(gate: Gate) -> None:
    response = await gate.client.get("/v2/private/app/manifests/v1")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="https://auth.example.com/token"'
    assert (await response.json())["errors"][0]["code"] == "UNAUTHORIZED"
    assert gate.verifier.asked == []


async def test_upload_is_streamed_and_location_points_at_the_gate(gate: Gate) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 65536):
            yield payload[i : i + 65536]

    response = await gate.client.put("/v2/prod/app/blobs/uploads/abc", data=chunks())
    assert response.status == 201
    assert gate.registry.uploads == [payload]
    host = f"{gate.client.host}:{gate.client.port}"
    assert response.headers["Location"] == f"http://{host}/v2/done"


async def test_oversized_manifest_is_refused(gate: Gate) -> None:
    huge = b"{" + b" " * MAX_MANIFEST_BYTES + b"}"
    gate.registry.put("prod/app", "huge", huge)
    gate.verifier.signed.add(("huge", digest_of(huge)))
    response = await gate.client.get("/v2/prod/app/manifests/huge")
    assert response.status == 412
    error = (await response.json())["errors"][0]
    assert error["code"] == "DENIED"
    assert "is larger than" in error["message"]
    assert response.headers["Warning"] == f'299 - "{error["message"]}"'
    head = await gate.client.head("/v2/prod/app/manifests/huge")
    assert (head.status, await head.read()) == (412, b"")
    assert head.headers["Warning"] == response.headers["Warning"]


async def test_registry_serving_other_content_for_a_digest_is_refused(gate: Gate) -> None:
    asked_for = digest_of(b"what the client wants")
    gate.registry.manifests[("prod/app", asked_for)] = (b'{"other":1}', OCI_MANIFEST)
    response = await gate.client.get(f"/v2/prod/app/manifests/{asked_for}")
    assert response.status == 412
    body = await response.json()
    assert body["errors"][0]["message"].startswith("content trust: the registry served sha256:")


async def test_registry_down_is_a_registry_style_502(aiohttp_client: AiohttpClient) -> None:
    async for gate in _gate(aiohttp_client, "http://127.0.0.1:9", FakeRegistry()):
        response = await gate.client.get("/v2/dev/app/tags/list")
        assert response.status == 502
        assert (await response.json())["errors"][0]["code"] == "UNAVAILABLE"
        response = await gate.client.get("/v2/prod/app/manifests/v1")
        assert response.status == 502


@pytest.mark.parametrize(
    "path",
    ["/v2/dev/../prod/app/manifests/v1", "/v2/dev/%2E%2E/prod/app/manifests/v1", "/v2/./x"],
)
async def test_dot_segments_are_refused(gate: Gate, path: str) -> None:
    # aiohttp's client would clean the path: send the request line as is.
    reader, writer = await asyncio.open_connection(gate.client.host, gate.client.port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: gate\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b'"NAME_INVALID"' in answer
