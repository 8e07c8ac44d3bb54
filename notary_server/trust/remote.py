"""Go's ``trust_service.type: remote``: a notary signer over gRPC with mutual TLS.

Port of Go ``signer/client/signer_trust.go``. One channel is opened at start-up
and reused; like Go, the server starts even while the signer is down, and the
channel reconnects by itself when it comes back. Unlike Go, every call has a
deadline, so a hung signer fails a request instead of hanging it.

The key a signer returns is rebuilt from its type and public bytes and its ID is
recomputed here: the ID the signer reports is not trusted.

Creating keys (beyond Go): ``GET {role}.key`` sends the ``CreateKey`` metadata
``notary-py-create-mode: get-or-create``, so our signer may hand back its
pending key as Go's SQL signer does; a rotation sends nothing, so our signer
generates, and says so in the trailing metadata ``notary-py-key-state: new``
(``notary_signer/servicers.py`` defines both). Go's signer ignores the request
metadata and always hands back its pending key (the one a ``GET`` returned, or
an earlier rotation's); when the answer does not say ``new``, a rotation
retires that key by having the signer sign :data:`RETIRE_MESSAGE` with it (Go
marks a key used when it signs, and never hands a used key out again) and asks
again, and Go's signer, holding no pending key any more, generates one.
Rotations of one GUN and role are serialised within the process, so two
concurrent rotations cannot both be handed the same pending key; across
processes only a signer that generates (ours) can promise that.

For a ``GET``, :meth:`RemoteCryptoService.get_or_create_key` also reports
whether the key was generated (``notary-py-key-state`` other than
``pending``; Go's signer sends no state, so its answers count as generated),
which is what the server's key creation budget charges (ADR 0021).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Final

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from notary_proto import signer_pb2, signer_pb2_grpc
from notary_server.trust.base import CryptoService, KeyNotFoundError, TrustServiceError
from notary_tuf.keys import PublicKey

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from notary_server.config import TrustServiceConfig

__all__ = ["HEALTH_SERVICES", "RemoteCryptoService", "open_remote"]

logger = logging.getLogger(__name__)

HEALTH_SERVICES: Final = (
    "grpc.health.v1.Health.KeyManagement",
    "grpc.health.v1.Health.Signer",
)
"""The health service names Go's signer registers and Go's server probes (Go ``const.go``)."""

DEFAULT_TIMEOUT: Final = 10.0

CREATE_MODE_METADATA: Final = "notary-py-create-mode"
"""``CreateKey`` request metadata (ours; ``notary_signer.servicers`` holds the same)."""
CREATE_MODE_GET: Final = "get-or-create"
"""The signer may hand back a pending key: only for ``GET {role}.key``."""
KEY_STATE_METADATA: Final = "notary-py-key-state"
"""``CreateKey`` trailing metadata of our signer: ``new`` when it generated the key."""
KEY_STATE_NEW: Final = "new"
KEY_STATE_PENDING: Final = "pending"
RETIRE_MESSAGE: Final = b"notary-py: retire a pending key handed back for a rotation"
"""What a rotation has a signer sign to mark a pending key used (never TUF metadata)."""


def _failure(operation: str, error: grpc.aio.AioRpcError, target: str = "") -> TrustServiceError:
    code = error.code()
    if code == grpc.StatusCode.NOT_FOUND:
        return KeyNotFoundError(f"{operation}: key not found")
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        # One line for the log that says where the server looked (issue #19).
        return TrustServiceError(f"trust service unavailable at {target or '?'} ({code.name})")
    return TrustServiceError(f"{operation}: signer answered {code.name}")


class RemoteCryptoService(CryptoService):
    """A trust service backed by a notary signer (ours or Go's)."""

    def __init__(
        self, channel: grpc.aio.Channel, *, timeout: float = DEFAULT_TIMEOUT, target: str = ""
    ) -> None:
        """Use an open channel to ``target`` (``host:port``, named in errors); see :meth:`close`."""
        self._channel = channel
        self._target = target
        self._timeout = timeout
        self._keys = signer_pb2_grpc.KeyManagementStub(channel)
        self._signer = signer_pb2_grpc.SignerStub(channel)
        self._health = health_pb2_grpc.HealthStub(channel)
        self._rotations: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    async def _create(
        self, role: str, gun: str, algorithm: str, *, reuse_pending: bool
    ) -> tuple[PublicKey, str | None]:
        """``CreateKey``; returns the key and the key state our signer reports (None: Go's)."""
        request = signer_pb2.CreateKeyRequest(algorithm=algorithm, gun=gun, role=role)
        metadata = ((CREATE_MODE_METADATA, CREATE_MODE_GET),) if reuse_pending else None
        try:
            call = self._keys.CreateKey(request, metadata=metadata, timeout=self._timeout)
            reply = await call
            trailing = await call.trailing_metadata()
        except grpc.aio.AioRpcError as e:
            raise _failure("CreateKey", e, self._target) from e
        state = next((str(v) for k, v in trailing or () if k == KEY_STATE_METADATA), None)
        return PublicKey(reply.keyInfo.algorithm.algorithm, reply.publicKey), state

    async def create_key(self, role: str, gun: str, algorithm: str) -> PublicKey:
        """Ask the signer for a key (it may hand back a pending, never-used one).

        Raises:
            TrustServiceError: the signer refused or is unreachable.
        """
        key, _ = await self._create(role, gun, algorithm, reuse_pending=True)
        return key

    async def get_or_create_key(
        self, role: str, gun: str, algorithm: str
    ) -> tuple[PublicKey, bool]:
        """:meth:`create_key`; generated unless our signer says it reused a pending key.

        Go's signer does not say, and the answer then counts as generated.

        Raises:
            TrustServiceError: the signer refused or is unreachable.
        """
        key, state = await self._create(role, gun, algorithm, reuse_pending=True)
        return key, state != KEY_STATE_PENDING

    async def rotate_key(self, role: str, gun: str, algorithm: str) -> PublicKey:
        """Ask the signer for a key it never handed out before (see the module docstring).

        Raises:
            TrustServiceError: the signer refused, is unreachable, or keeps
                handing back the same key.
        """
        async with self._rotating(gun, role):
            key, state = await self._create(role, gun, algorithm, reuse_pending=False)
            if state == KEY_STATE_NEW:
                return key
            # Go's signer: this may be the pending key a GET or a rotation handed out.
            await self.sign(key.canonical_key_id, RETIRE_MESSAGE)
            logger.info("%s: retired the pending %s key %s to rotate", gun, role, key.key_id)
            again, _ = await self._create(role, gun, algorithm, reuse_pending=False)
            if again.key_id == key.key_id:
                raise TrustServiceError(f"CreateKey: the signer handed back used key {key.key_id}")
            return again

    @contextlib.asynccontextmanager
    async def _rotating(self, gun: str, role: str) -> AsyncIterator[None]:
        """Hold the rotation lock of (``gun``, ``role``); unused locks are dropped."""
        name = (gun, role)
        lock, users = self._rotations.get(name, (asyncio.Lock(), 0))
        self._rotations[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._rotations[name]
            if users == 1:
                del self._rotations[name]
            else:
                self._rotations[name] = (lock, users - 1)

    async def get_key(self, key_id: str) -> PublicKey | None:
        """Return the key if the signer holds it; any failure means "not held", as in Go."""
        try:
            reply = await self._keys.GetKeyInfo(signer_pb2.KeyID(ID=key_id), timeout=self._timeout)
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                logger.warning("GetKeyInfo failed: %s", _failure("GetKeyInfo", e, self._target))
            return None
        return PublicKey(reply.keyInfo.algorithm.algorithm, reply.publicKey)

    async def sign(self, key_id: str, message: bytes) -> bytes:
        """Have the signer sign ``message`` with ``key_id``.

        Raises:
            KeyNotFoundError: the signer does not hold the key.
            TrustServiceError: the signer failed or is unreachable.
        """
        request = signer_pb2.SignatureRequest(keyID=signer_pb2.KeyID(ID=key_id), content=message)
        try:
            reply = await self._signer.Sign(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as e:
            raise _failure("Sign", e, self._target) from e
        return bytes(reply.content)

    async def delete_key(self, key_id: str) -> None:
        """Have the signer delete the key (Go's and ours: absent keys succeed).

        Raises:
            TrustServiceError: the signer refused or is unreachable.
        """
        try:
            await self._keys.DeleteKey(signer_pb2.KeyID(ID=key_id), timeout=self._timeout)
        except grpc.aio.AioRpcError as e:
            if e.code() == grpc.StatusCode.NOT_FOUND:
                return
            raise _failure("DeleteKey", e, self._target) from e

    async def check_health(self) -> None:
        """Require SERVING from both of the signer's health service names.

        Raises:
            TrustServiceError: a service is not SERVING or the signer is unreachable.
        """
        for service in HEALTH_SERVICES:
            try:
                reply = await self._health.Check(
                    health_pb2.HealthCheckRequest(service=service), timeout=self._timeout
                )
            except grpc.aio.AioRpcError as e:
                raise _failure(f"health {service}", e, self._target) from e
            if reply.status != health_pb2.HealthCheckResponse.SERVING:
                raise TrustServiceError(f"health {service}: not serving")

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()


def _read(path: object) -> bytes | None:
    if path is None:
        return None
    with open(str(path), "rb") as handle:  # noqa: PTH123 - accepts str or Path alike
        return handle.read()


def open_remote(config: TrustServiceConfig) -> RemoteCryptoService:
    """Open the channel to the signer ``config`` names (no connection is made yet).

    Raises:
        OSError: a TLS file cannot be read.
    """
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(config.tls_ca_file),
        private_key=_read(config.tls_client_key),
        certificate_chain=_read(config.tls_client_cert),
    )
    target = f"{config.hostname}:{config.port}"
    channel = grpc.aio.secure_channel(target, credentials)
    logger.info("using the remote trust service at %s", target)
    return RemoteCryptoService(channel, target=target)
