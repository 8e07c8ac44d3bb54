"""The gRPC servicers: ``proto.KeyManagement`` and ``proto.Signer``.

Port of Go ``signer/api/rpc_api.go`` (and ``find_key.go``), kept thin: the work
is :class:`notary_signer.keys.KeyService`'s, and :func:`_abort` is the one
place that turns its errors into status codes, with the codes Go uses:

============================  ===========  =========================================
error                         code         details
============================  ===========  =========================================
UnsupportedAlgorithmError     UNKNOWN      ``algorithm <a> not supported for create key``
key missing or unusable [1]   NOT_FOUND    GetKeyInfo ``key <id> not found``;
                                           Sign ``signing key not found: <id>``
anything else                 INTERNAL     a fixed text per RPC (Go's where it has one)
============================  ===========  =========================================

[1] Go's ``findKeyByID`` reports *any* failure to load a key (no row, no
passphrase, undecryptable) as not found; so do we, and log the real reason.

No exception text, payload or key material reaches a client; only the
request's key ID is echoed, as Go does. Signed payloads are never logged.

``CreateKey`` understands one request metadata entry beyond Go's protocol,
:data:`CREATE_MODE_METADATA`: ``get-or-create`` lets it hand back the newest
pending key (what Go's SQL signer always does); without it (Go's server sends
nothing) a new key is generated. The answer carries the trailing metadata
:data:`KEY_STATE_METADATA`, ``new`` or ``pending``, so our server knows whether
a rotation got a key nobody was given before. Go's server and signer ignore
both; the copies in ``notary_server/trust/remote.py`` must match these.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final, NoReturn

import grpc

from notary_proto import signer_pb2, signer_pb2_grpc
from notary_signer.errors import (
    KeyDecryptionError,
    KeyNotFoundError,
    PassphraseError,
    UnsupportedAlgorithmError,
)

if TYPE_CHECKING:
    from notary_signer.keys import KeyInfo, KeyService

__all__ = [
    "CREATE_MODE_GET",
    "CREATE_MODE_METADATA",
    "KEY_STATE_METADATA",
    "KEY_STATE_NEW",
    "KEY_STATE_PENDING",
    "KeyManagementServicer",
    "SignerServicer",
    "add_servicers",
]

logger = logging.getLogger(__name__)

_UNUSABLE_KEY = (KeyNotFoundError, PassphraseError, KeyDecryptionError)

Context = Any  # grpc.aio.ServicerContext; grpc ships no type information

CREATE_MODE_METADATA: Final = "notary-py-create-mode"
"""Request metadata of ``CreateKey``: how the caller wants the key."""
CREATE_MODE_GET: Final = "get-or-create"
"""A pending (handed out, never used) key may be returned again."""
KEY_STATE_METADATA: Final = "notary-py-key-state"
"""Trailing metadata of ``CreateKey``'s answer: ``new`` or ``pending`` (reused)."""
KEY_STATE_NEW: Final = "new"
KEY_STATE_PENDING: Final = "pending"


def _create_mode(context: Context) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == CREATE_MODE_METADATA:
            return str(value)
    return None


async def _abort(
    context: Context, error: Exception, *, rpc: str, key_id: str, not_found: str, internal: str
) -> NoReturn:
    """Abort the RPC with the status for ``error`` (the table in the module docstring)."""
    if isinstance(error, UnsupportedAlgorithmError):
        logger.error("%s: %s", rpc, error)
        await context.abort(grpc.StatusCode.UNKNOWN, str(error))
    if isinstance(error, _UNUSABLE_KEY):
        if isinstance(error, KeyNotFoundError):
            logger.info("%s: key %s not found", rpc, key_id)
        else:
            logger.error("%s: key %s cannot be used: %s", rpc, key_id, error)
        await context.abort(grpc.StatusCode.NOT_FOUND, not_found)
    logger.error("%s failed for key %r", rpc, key_id, exc_info=error)
    await context.abort(grpc.StatusCode.INTERNAL, internal)
    raise AssertionError  # pragma: no cover - context.abort always raises


def _key_info(info: KeyInfo) -> signer_pb2.KeyInfo:
    return signer_pb2.KeyInfo(
        keyID=signer_pb2.KeyID(ID=info.key_id),
        algorithm=signer_pb2.Algorithm(algorithm=info.algorithm),
    )


class KeyManagementServicer(signer_pb2_grpc.KeyManagementServicer):
    """``proto.KeyManagement``: CreateKey, DeleteKey, GetKeyInfo."""

    def __init__(self, keys: KeyService) -> None:
        """Serve ``keys``."""
        self._keys = keys

    async def CreateKey(  # noqa: N802 - gRPC method name
        self, request: signer_pb2.CreateKeyRequest, context: Context
    ) -> signer_pb2.PublicKey:
        """Generate a key for (gun, role, algorithm), or reuse a pending one if asked to."""
        reuse = _create_mode(context) == CREATE_MODE_GET
        try:
            info = await self._keys.create_key(
                request.algorithm, request.gun, request.role, reuse_pending=reuse
            )
        except Exception as e:  # noqa: BLE001 - every error is mapped, none escapes
            await _abort(
                context,
                e,
                rpc="CreateKey",
                key_id="",
                not_found="Key creation failed",
                internal="Key creation failed",
            )
        state = KEY_STATE_NEW if info.created else KEY_STATE_PENDING
        context.set_trailing_metadata(((KEY_STATE_METADATA, state),))
        return signer_pb2.PublicKey(keyInfo=_key_info(info), publicKey=info.public)

    async def DeleteKey(  # noqa: N802 - gRPC method name
        self, request: signer_pb2.KeyID, context: Context
    ) -> signer_pb2.Void:
        """Delete the key; succeeds for keys that do not exist."""
        try:
            await self._keys.delete_key(request.ID)
        except Exception as e:  # noqa: BLE001 - every error is mapped, none escapes
            message = f"Key deletion for KeyID {request.ID} failed"
            await _abort(
                context, e, rpc="DeleteKey", key_id=request.ID, not_found=message, internal=message
            )
        return signer_pb2.Void()

    async def GetKeyInfo(  # noqa: N802 - gRPC method name
        self, request: signer_pb2.KeyID, context: Context
    ) -> signer_pb2.GetKeyInfoResponse:
        """Return the key's type, public bytes and role."""
        try:
            info = await self._keys.key_info(request.ID)
        except Exception as e:  # noqa: BLE001 - every error is mapped, none escapes
            await _abort(
                context,
                e,
                rpc="GetKeyInfo",
                key_id=request.ID,
                not_found=f"key {request.ID} not found",
                internal="Key lookup failed",
            )
        return signer_pb2.GetKeyInfoResponse(
            keyInfo=_key_info(info), publicKey=info.public, role=info.role
        )


class SignerServicer(signer_pb2_grpc.SignerServicer):
    """``proto.Signer``: Sign."""

    def __init__(self, keys: KeyService) -> None:
        """Serve ``keys``."""
        self._keys = keys

    async def Sign(  # noqa: N802 - gRPC method name
        self, request: signer_pb2.SignatureRequest, context: Context
    ) -> signer_pb2.Signature:
        """Sign ``content`` (the full message) with the key; marks the key used."""
        key_id = request.keyID.ID
        try:
            key, signature = await self._keys.sign(key_id, request.content)
        except Exception as e:  # noqa: BLE001 - every error is mapped, none escapes
            await _abort(
                context,
                e,
                rpc="Sign",
                key_id=key_id,
                not_found=f"signing key not found: {key_id}",
                internal=f"Signing failed for KeyID {key_id}",
            )
        logger.info("Sign: signed %d bytes with key %s", len(request.content), key_id)
        return signer_pb2.Signature(
            keyInfo=signer_pb2.KeyInfo(
                keyID=signer_pb2.KeyID(ID=key.key_id),
                algorithm=signer_pb2.Algorithm(algorithm=key.algorithm),
            ),
            algorithm=signer_pb2.Algorithm(algorithm=key.signature_algorithm),
            content=signature,
        )


def add_servicers(server: Any, keys: KeyService) -> None:
    """Register both servicers on a ``grpc.aio`` server."""
    signer_pb2_grpc.add_KeyManagementServicer_to_server(KeyManagementServicer(keys), server)
    signer_pb2_grpc.add_SignerServicer_to_server(SignerServicer(keys), server)
