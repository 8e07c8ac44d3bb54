"""Go's ``trust_service.type: remote``: a notary signer over gRPC with mutual TLS.

Port of Go ``signer/client/signer_trust.go``. One channel is opened at start-up
and reused; like Go, the server starts even while the signer is down, and the
channel reconnects by itself when it comes back. Unlike Go, every call has a
deadline, so a hung signer fails a request instead of hanging it.

The key a signer returns is rebuilt from its type and public bytes and its ID is
recomputed here: the ID the signer reports is not trusted.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from notary_proto import signer_pb2, signer_pb2_grpc
from notary_server.trust.base import CryptoService, KeyNotFoundError, TrustServiceError
from notary_tuf.keys import PublicKey

if TYPE_CHECKING:
    from notary_server.config import TrustServiceConfig

__all__ = ["HEALTH_SERVICES", "RemoteCryptoService", "open_remote"]

logger = logging.getLogger(__name__)

HEALTH_SERVICES: Final = (
    "grpc.health.v1.Health.KeyManagement",
    "grpc.health.v1.Health.Signer",
)
"""The health service names Go's signer registers and Go's server probes (Go ``const.go``)."""

DEFAULT_TIMEOUT: Final = 10.0


def _failure(operation: str, error: grpc.aio.AioRpcError) -> TrustServiceError:
    if error.code() == grpc.StatusCode.NOT_FOUND:
        return KeyNotFoundError(f"{operation}: key not found")
    return TrustServiceError(f"{operation}: signer answered {error.code().name}")


class RemoteCryptoService(CryptoService):
    """A trust service backed by a notary signer (ours or Go's)."""

    def __init__(self, channel: grpc.aio.Channel, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Use an open channel; the service closes it in :meth:`close`."""
        self._channel = channel
        self._timeout = timeout
        self._keys = signer_pb2_grpc.KeyManagementStub(channel)
        self._signer = signer_pb2_grpc.SignerStub(channel)
        self._health = health_pb2_grpc.HealthStub(channel)

    async def create_key(self, role: str, gun: str, algorithm: str) -> PublicKey:
        """Ask the signer for a key (it may hand back a pending, never-used one).

        Raises:
            TrustServiceError: the signer refused or is unreachable.
        """
        request = signer_pb2.CreateKeyRequest(algorithm=algorithm, gun=gun, role=role)
        try:
            reply = await self._keys.CreateKey(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as e:
            raise _failure("CreateKey", e) from e
        return PublicKey(reply.keyInfo.algorithm.algorithm, reply.publicKey)

    async def get_key(self, key_id: str) -> PublicKey | None:
        """Return the key if the signer holds it; any failure means "not held", as in Go."""
        try:
            reply = await self._keys.GetKeyInfo(signer_pb2.KeyID(ID=key_id), timeout=self._timeout)
        except grpc.aio.AioRpcError as e:
            if e.code() != grpc.StatusCode.NOT_FOUND:
                logger.warning("GetKeyInfo failed: %s", e.code().name)
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
            raise _failure("Sign", e) from e
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
            raise _failure("DeleteKey", e) from e

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
                raise TrustServiceError(f"health {service}: {e.code().name}") from e
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
    return RemoteCryptoService(channel)
