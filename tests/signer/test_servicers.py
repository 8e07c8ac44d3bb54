"""The gRPC API over a real grpc.aio server with mutual TLS (Go signer/api/rpc_api_test.go)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from notary_proto import signer_pb2
from notary_signer.crypto import SignerKey
from notary_signer.keys import KeyService
from notary_signer.keystore import KeyRecord
from notary_signer.server import HEALTH_KEY_MANAGEMENT, HEALTH_SIGNER, start_server
from notary_signer.servicers import (
    CREATE_MODE_GET,
    CREATE_MODE_METADATA,
    KEY_STATE_METADATA,
    KEY_STATE_NEW,
    KEY_STATE_PENDING,
)
from notary_tuf.crypto import verify_signature
from notary_tuf.keys import PublicKey
from tests.signer.conftest import PASSPHRASE, LiveSigner, TLSFiles, channel_credentials

GUN = "docker.io/library/alpine"


def _create(algorithm: str = "ecdsa", role: str = "timestamp") -> signer_pb2.CreateKeyRequest:
    return signer_pb2.CreateKeyRequest(algorithm=algorithm, gun=GUN, role=role)


@pytest.mark.parametrize(("algorithm", "method"), [("ecdsa", "ecdsa"), ("ed25519", "eddsa")])
async def test_create_get_sign_roundtrip(
    live_signer: LiveSigner, algorithm: str, method: str
) -> None:
    created = await live_signer.km.CreateKey(_create(algorithm))
    public = PublicKey(created.keyInfo.algorithm.algorithm, created.publicKey)
    assert created.keyInfo.algorithm.algorithm == algorithm
    assert public.key_id == created.keyInfo.keyID.ID  # the server recomputes it; it must agree
    if algorithm == "ed25519":
        assert len(created.publicKey) == 32

    info = await live_signer.km.GetKeyInfo(signer_pb2.KeyID(ID=public.key_id))
    assert info.role == "timestamp"
    assert info.publicKey == created.publicKey
    assert info.keyInfo.algorithm.algorithm == algorithm

    message = b'{"signed":{"_type":"Timestamp"}}'
    sig = await live_signer.signer.Sign(
        signer_pb2.SignatureRequest(keyID=signer_pb2.KeyID(ID=public.key_id), content=message)
    )
    assert sig.algorithm.algorithm == method
    assert public.key_id == sig.keyInfo.keyID.ID
    assert sig.keyInfo.algorithm.algorithm == algorithm
    if algorithm == "ecdsa":
        assert len(sig.content) == 64  # raw r || s
    verify_signature(public, method, message, sig.content)


async def test_unsupported_algorithm_is_unknown_with_go_message(live_signer: LiveSigner) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await live_signer.km.CreateKey(_create("rsa"))
    assert exc.value.code() == grpc.StatusCode.UNKNOWN
    assert exc.value.details() == "algorithm rsa not supported for create key"


GET_OR_CREATE = ((CREATE_MODE_METADATA, CREATE_MODE_GET),)


async def _create_call(
    live_signer: LiveSigner,
    request: signer_pb2.CreateKeyRequest,
    metadata: tuple[tuple[str, str], ...] | None = None,
) -> tuple[str, str | None]:
    """``CreateKey``; returns the key ID and the ``notary-py-key-state`` trailer."""
    call = live_signer.km.CreateKey(request, metadata=metadata)
    reply = await call
    states = [v for k, v in await call.trailing_metadata() if k == KEY_STATE_METADATA]
    return reply.keyInfo.keyID.ID, (states[0] if states else None)


async def test_get_or_create_reuses_the_pending_key_until_it_signs(
    live_signer: LiveSigner,
) -> None:
    first, state = await _create_call(live_signer, _create(), GET_OR_CREATE)
    assert state == KEY_STATE_NEW
    again, state = await _create_call(live_signer, _create(), GET_OR_CREATE)
    assert (again, state) == (first, KEY_STATE_PENDING)
    other_role, _ = await _create_call(live_signer, _create(role="snapshot"), GET_OR_CREATE)
    other_alg, _ = await _create_call(live_signer, _create("ed25519"), GET_OR_CREATE)
    assert len({first, other_role, other_alg}) == 3

    await live_signer.signer.Sign(
        signer_pb2.SignatureRequest(keyID=signer_pb2.KeyID(ID=first), content=b"x")
    )
    record = await live_signer.keys.store.get(first)
    assert record.last_used is not None
    fresh, state = await _create_call(live_signer, _create(), GET_OR_CREATE)
    assert fresh != first
    assert state == KEY_STATE_NEW


async def test_create_without_mode_always_generates(live_signer: LiveSigner) -> None:
    """What Go's server (no metadata) and our rotation get: never a key handed out before."""
    pending, _ = await _create_call(live_signer, _create(), GET_OR_CREATE)
    seen = {pending}
    for _ in range(3):
        key_id, state = await _create_call(live_signer, _create())
        assert state == KEY_STATE_NEW
        assert key_id not in seen
        seen.add(key_id)
    # an unknown mode is no permission to reuse either
    key_id, state = await _create_call(
        live_signer, _create(), ((CREATE_MODE_METADATA, "something-else"),)
    )
    assert (key_id in seen, state) == (False, KEY_STATE_NEW)
    seen.add(key_id)
    # a GET afterwards is handed the newest pending key: the last one generated
    again, state = await _create_call(live_signer, _create(), GET_OR_CREATE)
    assert (again, state) == (key_id, KEY_STATE_PENDING)


async def test_concurrent_creates_never_share_a_key(live_signer: LiveSigner) -> None:
    await _create_call(live_signer, _create(), GET_OR_CREATE)  # a pending key to be tempted by
    results = await asyncio.gather(*(_create_call(live_signer, _create()) for _ in range(8)))
    assert len({key_id for key_id, _ in results}) == 8
    assert {state for _, state in results} == {KEY_STATE_NEW}


# Plaintext rows only make sense for the memory backend, which does not encrypt.
@pytest.mark.parametrize("keys", ["memory"], indirect=True)
async def test_newest_pending_key_wins(live_signer: LiveSigner) -> None:
    ids = []
    for _ in range(3):
        key = SignerKey.generate("ed25519")
        ids.append(key.key_id)
        await live_signer.keys.store.add(
            KeyRecord(
                key_id=key.key_id,
                algorithm="ed25519",
                gun=GUN,
                role="timestamp",
                public=key.public_key.public,
                private=key.private_bytes(),
                passphrase_alias="",
                encryption_alg="",
                keywrap_alg="",
            )
        )
    got, state = await _create_call(live_signer, _create("ed25519"), GET_OR_CREATE)
    assert (got, state) == (ids[-1], KEY_STATE_PENDING)


async def test_get_key_info_not_found(live_signer: LiveSigner) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await live_signer.km.GetKeyInfo(signer_pb2.KeyID(ID="abc123"))
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    assert exc.value.details() == "key abc123 not found"


async def test_sign_not_found(live_signer: LiveSigner) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await live_signer.signer.Sign(
            signer_pb2.SignatureRequest(keyID=signer_pb2.KeyID(ID="nope"), content=b"m")
        )
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    assert exc.value.details() == "signing key not found: nope"


async def test_delete_key(live_signer: LiveSigner) -> None:
    created = await live_signer.km.CreateKey(_create())
    await live_signer.km.DeleteKey(created.keyInfo.keyID)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await live_signer.km.GetKeyInfo(created.keyInfo.keyID)
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    await live_signer.km.DeleteKey(signer_pb2.KeyID(ID="never-existed"))  # Go: always succeeds
    replacement = await live_signer.km.CreateKey(_create())
    assert replacement.keyInfo.keyID.ID != created.keyInfo.keyID.ID


# Only a database-backed store can be made to fail by closing it.
@pytest.mark.parametrize("keys", ["sqlite"], indirect=True)
async def test_internal_errors_hide_details(live_signer: LiveSigner) -> None:
    await live_signer.keys.store.close()  # every database call now fails
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await live_signer.km.CreateKey(_create())
    assert exc.value.code() == grpc.StatusCode.INTERNAL
    assert exc.value.details() == "Key creation failed"
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await live_signer.km.GetKeyInfo(signer_pb2.KeyID(ID="k"))
    assert exc.value.code() == grpc.StatusCode.INTERNAL
    assert exc.value.details() == "Key lookup failed"


@pytest.mark.parametrize(
    ("service", "status"),
    [
        (HEALTH_KEY_MANAGEMENT, health_pb2.HealthCheckResponse.SERVING),
        (HEALTH_SIGNER, health_pb2.HealthCheckResponse.SERVING),
        ("", health_pb2.HealthCheckResponse.SERVING),  # Go's health server special-cases ""
    ],
)
async def test_health_service_names(live_signer: LiveSigner, service: str, status: int) -> None:
    stub = health_pb2_grpc.HealthStub(live_signer.channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    assert reply.status == status
    assert HEALTH_KEY_MANAGEMENT == "grpc.health.v1.Health.KeyManagement"
    assert HEALTH_SIGNER == "grpc.health.v1.Health.Signer"


async def test_health_overall_is_not_registered(live_signer: LiveSigner) -> None:
    stub = health_pb2_grpc.HealthStub(live_signer.channel)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await stub.Check(
            health_pb2.HealthCheckRequest(service="grpc.health.v1.Health.Overall"), timeout=5
        )
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("client", ["none", "foreign", "expired"])
async def test_mtls_refuses_bad_clients(
    live_signer: LiveSigner, tls_files: TLSFiles, client: str
) -> None:
    cert = {
        "none": None,
        "foreign": tls_files.foreign_client,
        "expired": tls_files.expired_client,
    }[client]
    channel = grpc.aio.secure_channel(live_signer.target, channel_credentials(tls_files, cert))
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await stub.Check(health_pb2.HealthCheckRequest(service=HEALTH_SIGNER), timeout=5)
        assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await channel.close()


async def test_tls_without_client_ca_accepts_any_client(
    memory_keys: object, tls_files: TLSFiles
) -> None:
    assert isinstance(memory_keys, KeyService)
    server, _, port = await start_server(
        memory_keys, replace(tls_files.server, client_ca_file=None), "127.0.0.1:0"
    )
    channel = grpc.aio.secure_channel(f"127.0.0.1:{port}", channel_credentials(tls_files, None))
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=HEALTH_SIGNER), timeout=5
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await channel.close()
        await server.stop(None)


async def test_secrets_never_logged(
    live_signer: LiveSigner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    payload = b"very-secret-payload-0451"
    created = await live_signer.km.CreateKey(_create("ed25519"))
    await live_signer.signer.Sign(
        signer_pb2.SignatureRequest(keyID=created.keyInfo.keyID, content=payload)
    )
    with pytest.raises(grpc.aio.AioRpcError):
        await live_signer.signer.Sign(
            signer_pb2.SignatureRequest(keyID=signer_pb2.KeyID(ID="zz"), content=payload)
        )
    key, _ = await live_signer.keys.get_key(created.keyInfo.keyID.ID)
    private = key.private_bytes()
    text = caplog.text
    assert text  # the calls were logged ...
    assert PASSPHRASE not in text  # ... but never the passphrase,
    assert payload.decode() not in text  # the payload,
    for secret in (private, private[32:64]):  # or key material, in any spelling
        assert secret.hex() not in text
        assert repr(secret) not in text
    assert "SignerKey(" not in repr(key) or private.hex() not in repr(key)
