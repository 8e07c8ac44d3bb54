"""Server-managed keys (docs/protocol.md#server-managed-keys): GET (get or create) and POST
(rotate) ``{role}.key``."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from notary_proto import signer_pb2, signer_pb2_grpc
from notary_server.trust.base import TrustServiceError
from notary_server.trust.remote import CREATE_MODE_GET as SERVER_CREATE_MODE_GET
from notary_server.trust.remote import CREATE_MODE_METADATA as SERVER_CREATE_MODE_METADATA
from notary_server.trust.remote import KEY_STATE_METADATA as SERVER_KEY_STATE_METADATA
from notary_server.trust.remote import KEY_STATE_NEW as SERVER_KEY_STATE_NEW
from notary_server.trust.remote import RETIRE_MESSAGE, RemoteCryptoService
from notary_signer import servicers
from notary_tuf.crypto import PrivateKey
from notary_tuf.keys import PublicKey
from notary_tuf.rolenames import SNAPSHOT, TIMESTAMP
from testkit.server_helpers import (
    GUN,
    AppClient,
    fetch_key,
    publish_new,
    tuf_url,
)

KEY_BODY_RE = re.compile(
    rb'^\{"keytype":"ed25519","keyval":\{"public":"([A-Za-z0-9+/=]+)","private":null\}\}$'
)
ROLES = [TIMESTAMP, SNAPSHOT]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("role", ROLES)
async def test_key_body_is_go_json(client: AppClient, method: str, role: str) -> None:
    response = await client.request(method, tuf_url(GUN, f"{role}.key"))
    assert response.status == 200
    body = await response.read()
    found = KEY_BODY_RE.match(body)
    assert found is not None, body
    assert len(base64.b64decode(found.group(1))) == 32  # a raw ed25519 public key


@pytest.mark.parametrize("role", ROLES)
async def test_get_without_root_creates_a_key_each_time(client: AppClient, role: str) -> None:
    # The local service makes a fresh key on every create (Go's memory signer does too).
    first = await fetch_key(client, GUN, role)
    second = await fetch_key(client, GUN, role)
    assert first.key_id != second.key_id


@pytest.mark.parametrize("role", ROLES)
async def test_get_with_root_returns_the_roots_key(client: AppClient, role: str) -> None:
    published = await publish_new(client, server_snapshot=role == SNAPSHOT)
    expected = (
        published.builder.timestamp_key if role == TIMESTAMP else published.builder.snapshot_public
    )
    for _ in range(2):
        assert (await fetch_key(client, GUN, role)).key_id == expected.key_id


async def test_get_with_root_but_key_not_held_creates_one(client: AppClient) -> None:
    # A client-held snapshot key: the server holds none of root's snapshot keys.
    published = await publish_new(client)
    held = await fetch_key(client, GUN, SNAPSHOT)
    assert held.key_id != published.builder.snapshot_public.key_id


@pytest.mark.parametrize("role", ROLES)
async def test_rotate_makes_a_new_key_each_time(client: AppClient, role: str) -> None:
    published = await publish_new(client, server_snapshot=True)
    listed = {published.builder.timestamp_key.key_id, published.builder.snapshot_public.key_id}
    rotated = []
    for _ in range(3):
        response = await client.post(tuf_url(GUN, f"{role}.key"))
        assert response.status == 200
        rotated.append(json.loads(await response.read())["keyval"]["public"])
    assert len(set(rotated)) == 3
    # rotation changes no metadata: GET still answers with the key the root lists
    assert (await fetch_key(client, GUN, role)).key_id in listed
    assert (await client.get(tuf_url(GUN, "timestamp.json"))).status == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("role", ["root", "targets", "targets/releases"])
async def test_other_roles_fall_into_catch_all(client: AppClient, method: str, role: str) -> None:
    response = await client.request(method, tuf_url(GUN, f"{role}.key"))
    assert response.status == 404
    body = json.loads(await response.read())
    assert body == {
        "errors": [
            {
                "code": "METADATA_NOT_FOUND",
                "message": "You have requested metadata that does not exist.",
            }
        ]
    }


@pytest.mark.parametrize("role", ROLES)
async def test_rotate_never_returns_a_key_handed_out_before(client: AppClient, role: str) -> None:
    seen = {(await fetch_key(client, GUN, role)).key_id}
    for _ in range(3):
        response = await client.post(tuf_url(GUN, f"{role}.key"))
        assert response.status == 200
        rotated = PublicKey.from_dict(json.loads(await response.read())).key_id
        assert rotated not in seen
        seen.add(rotated)


# ---------------------------------------------------------------- remote trust service
#
# RemoteCryptoService against in-process fakes of the two signers' CreateKey: Go's SQL
# signer (hands back its pending key until the key signs; no trailing metadata) and ours
# (generates unless asked for get-or-create; says "new" or "pending").


class FakeSigner(signer_pb2_grpc.KeyManagementServicer, signer_pb2_grpc.SignerServicer):
    """Keys by ID; ``go=True`` reuses the pending key like Go's SQL signer."""

    def __init__(self, *, go: bool, sign_marks_used: bool = True) -> None:
        self.go = go
        self.sign_marks_used = sign_marks_used
        self.keys: dict[str, tuple[PrivateKey, str, bool]] = {}  # id -> key, gun/role, used
        self.signed: list[bytes] = []
        self.modes: list[str | None] = []

    def _pending(self, owner: str) -> str | None:
        pending = [i for i, (_, o, used) in self.keys.items() if o == owner and not used]
        return pending[-1] if pending else None

    async def CreateKey(  # noqa: N802 - gRPC method name
        self, request: signer_pb2.CreateKeyRequest, context: Any
    ) -> signer_pb2.PublicKey:
        mode = dict(context.invocation_metadata()).get(SERVER_CREATE_MODE_METADATA)
        self.modes.append(mode)
        owner = f"{request.gun}/{request.role}"
        key_id = self._pending(owner) if (self.go or mode == SERVER_CREATE_MODE_GET) else None
        state = "pending"
        if key_id is None:
            key = PrivateKey.generate(request.algorithm)
            key_id, state = key.public_key.key_id, "new"
            self.keys[key_id] = (key, owner, False)
        if not self.go:
            context.set_trailing_metadata(((SERVER_KEY_STATE_METADATA, state),))
        public = self.keys[key_id][0].public_key
        return signer_pb2.PublicKey(
            keyInfo=signer_pb2.KeyInfo(
                keyID=signer_pb2.KeyID(ID=key_id),
                algorithm=signer_pb2.Algorithm(algorithm=public.keytype),
            ),
            publicKey=public.public,
        )

    async def GetKeyInfo(  # noqa: N802 - gRPC method name
        self, request: signer_pb2.KeyID, context: Any
    ) -> signer_pb2.GetKeyInfoResponse:
        if request.ID not in self.keys:
            await context.abort(grpc.StatusCode.NOT_FOUND, "not found")
        public = self.keys[request.ID][0].public_key
        return signer_pb2.GetKeyInfoResponse(
            keyInfo=signer_pb2.KeyInfo(
                keyID=request, algorithm=signer_pb2.Algorithm(algorithm=public.keytype)
            ),
            publicKey=public.public,
        )

    async def DeleteKey(  # noqa: N802 - gRPC method name
        self,
        request: signer_pb2.KeyID,
        context: Any,  # noqa: ARG002 - the servicer signature
    ) -> signer_pb2.Void:
        self.keys.pop(request.ID, None)
        return signer_pb2.Void()

    async def Sign(  # noqa: N802 - gRPC method name
        self, request: signer_pb2.SignatureRequest, context: Any
    ) -> signer_pb2.Signature:
        if request.keyID.ID not in self.keys:
            await context.abort(grpc.StatusCode.NOT_FOUND, "not found")
        key, owner, _ = self.keys[request.keyID.ID]
        self.signed.append(request.content)
        if self.sign_marks_used:
            self.keys[request.keyID.ID] = (key, owner, True)
        return signer_pb2.Signature(keyInfo=signer_pb2.KeyInfo(keyID=request.keyID), content=b"s")


@dataclass
class Remote:
    fake: FakeSigner
    service: RemoteCryptoService


@pytest.fixture
async def remote(request: pytest.FixtureRequest) -> AsyncIterator[Remote]:
    """A RemoteCryptoService on a fake signer (``indirect`` param: FakeSigner options)."""
    fake = FakeSigner(**getattr(request, "param", {"go": True}))
    server = grpc.aio.server()
    signer_pb2_grpc.add_KeyManagementServicer_to_server(fake, server)
    signer_pb2_grpc.add_SignerServicer_to_server(fake, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    service = RemoteCryptoService(grpc.aio.insecure_channel(f"127.0.0.1:{port}"))
    try:
        yield Remote(fake, service)
    finally:
        await service.close()
        await server.stop(None)


GO_SIGNER = pytest.param({"go": True}, id="go-signer")
OUR_SIGNER = pytest.param({"go": False}, id="our-signer")


@pytest.mark.parametrize("remote", [GO_SIGNER, OUR_SIGNER], indirect=True)
async def test_remote_rotation_never_hands_back_a_key_handed_out_before(remote: Remote) -> None:
    service = remote.service
    got = (await service.create_key(TIMESTAMP, GUN, "ecdsa")).key_id
    assert (await service.create_key(TIMESTAMP, GUN, "ecdsa")).key_id == got  # GETs agree
    seen = {got}
    for _ in range(3):
        rotated = (await service.rotate_key(TIMESTAMP, GUN, "ecdsa")).key_id
        assert rotated not in seen
        seen.add(rotated)
        # a GET (no root) afterwards is handed the rotated key, as on Go's signer
        assert (await service.create_key(TIMESTAMP, GUN, "ecdsa")).key_id == rotated
    # GETs ask for reuse, rotations do not
    assert set(remote.fake.modes) == {SERVER_CREATE_MODE_GET, None}


@pytest.mark.parametrize("remote", [OUR_SIGNER], indirect=True)
async def test_remote_rotation_on_our_signer_signs_nothing(remote: Remote) -> None:
    await remote.service.create_key(TIMESTAMP, GUN, "ecdsa")
    await remote.service.rotate_key(TIMESTAMP, GUN, "ecdsa")
    assert remote.fake.signed == []


@pytest.mark.parametrize("remote", [GO_SIGNER], indirect=True)
async def test_remote_rotation_on_go_signer_retires_the_pending_key(remote: Remote) -> None:
    pending = await remote.service.create_key(SNAPSHOT, GUN, "ecdsa")
    rotated = await remote.service.rotate_key(SNAPSHOT, GUN, "ecdsa")
    assert rotated.key_id != pending.key_id
    assert remote.fake.signed == [RETIRE_MESSAGE]
    assert remote.fake.keys[pending.key_id][2]  # used now, so never handed out again
    assert not remote.fake.keys[rotated.key_id][2]  # pending: what the next GET returns


@pytest.mark.parametrize("remote", [GO_SIGNER, OUR_SIGNER], indirect=True)
async def test_concurrent_remote_rotations_get_distinct_keys(remote: Remote) -> None:
    handed = (await remote.service.create_key(TIMESTAMP, GUN, "ecdsa")).key_id
    rotated = await asyncio.gather(
        *(remote.service.rotate_key(TIMESTAMP, GUN, "ecdsa") for _ in range(6))
    )
    ids = [key.key_id for key in rotated]
    assert len(set(ids)) == 6
    assert handed not in ids


@pytest.mark.parametrize("remote", [{"go": True, "sign_marks_used": False}], indirect=True)
async def test_remote_rotation_refuses_a_signer_that_keeps_the_key_pending(
    remote: Remote,
) -> None:
    await remote.service.create_key(TIMESTAMP, GUN, "ecdsa")
    with pytest.raises(TrustServiceError, match="handed back used key"):
        await remote.service.rotate_key(TIMESTAMP, GUN, "ecdsa")


def test_server_and_signer_agree_on_the_create_key_metadata() -> None:
    assert (SERVER_CREATE_MODE_METADATA, SERVER_CREATE_MODE_GET) == (
        servicers.CREATE_MODE_METADATA,
        servicers.CREATE_MODE_GET,
    )
    assert (SERVER_KEY_STATE_METADATA, SERVER_KEY_STATE_NEW) == (
        servicers.KEY_STATE_METADATA,
        servicers.KEY_STATE_NEW,
    )
