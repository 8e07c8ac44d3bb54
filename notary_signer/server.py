"""The signer's gRPC server: servicers, health service, mutual TLS, lifecycle.

Port of Go ``cmd/notary-signer/config.go`` ``setupGRPCServer`` and ``main.go``:

* ``proto.KeyManagement`` and ``proto.Signer`` (:mod:`notary_signer.servicers`);
* the standard ``grpc.health.v1.Health`` service with
  ``grpc.health.v1.Health.KeyManagement`` and ``grpc.health.v1.Health.Signer``
  SERVING (Go ``const.go``); like Go's, the empty name answers SERVING and any
  other name NOT_FOUND;
* TLS is mandatory. With ``server.client_ca_file`` a client certificate signed
  by that CA is required (Go ``tls.RequireAndVerifyClientCert``). gRPC core
  negotiates TLS 1.2 or 1.3 only, which matches Go's minimum of 1.2; its
  cipher suites are used as they are.

:func:`serve` runs until SIGTERM or SIGINT, then marks the health statuses
NOT_SERVING and stops with a grace period for calls in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
from typing import TYPE_CHECKING, Any, Final

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from notary_signer import jwe
from notary_signer.config import check_default_passphrase, env_name
from notary_signer.errors import ConfigError, KeyDecryptionError, PassphraseError
from notary_signer.keys import KeyService
from notary_signer.keystore import open_keystore
from notary_signer.servicers import add_servicers

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from notary_signer.config import Passphrases, SignerConfig, TLSConfig
    from notary_signer.keystore import KeyStore

__all__ = [
    "HEALTH_KEY_MANAGEMENT",
    "HEALTH_SIGNER",
    "AddressInUseError",
    "check_address_free",
    "check_passphrases",
    "open_key_service",
    "serve",
    "server_credentials",
    "start_server",
]

logger = logging.getLogger(__name__)

HEALTH_KEY_MANAGEMENT: Final = "grpc.health.v1.Health.KeyManagement"
HEALTH_SIGNER: Final = "grpc.health.v1.Health.Signer"
STOP_GRACE_SECONDS: Final = 10.0
SERVER_OPTIONS: Final = (("grpc.so_reuseport", 0),)
"""gRPC sets SO_REUSEPORT by default, which lets a second signer share the port and
silently take a share of the calls; Go's signer fails with "address in use" instead."""


class AddressInUseError(OSError):
    """Another process listens on the signer's address."""

    def __init__(self, address: str) -> None:
        """Name the address in the message."""
        super().__init__(
            errno.EADDRINUSE,
            f"{address}: address already in use (is another notary-signer running?)",
        )


def check_address_free(address: str) -> None:
    """Fail early, with one clear message, when something already listens on ``address``.

    ``address`` is gRPC's ``host:port`` (``[::]:7899`` is every interface). The
    probe binds without SO_REUSEPORT and closes at once; port 0 is not checked.

    Raises:
        AddressInUseError: the port is taken.
    """
    host, _, port_text = address.rpartition(":")
    host = host.strip("[]")
    if not port_text.isdigit() or int(port_text) == 0:
        return
    port = int(port_text)
    try:
        if host in ("", "::", "0.0.0.0"):  # noqa: S104 - probing, as gRPC will listen
            if socket.has_dualstack_ipv6():
                probe = socket.create_server(
                    ("::", port), family=socket.AF_INET6, dualstack_ipv6=True
                )
            else:
                probe = socket.create_server(("", port))
            probe.close()
            return
        for family, _, _, _, sockaddr in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            socket.create_server(sockaddr[:2], family=family).close()
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise AddressInUseError(address) from e
        # Anything else (an address not on this host...) gRPC reports itself.


def server_credentials(tls: TLSConfig) -> grpc.ServerCredentials:
    """Build the server's TLS credentials (files were checked by ``load_config``)."""
    chain = tls.cert_file.read_bytes()
    key = tls.key_file.read_bytes()
    client_ca = tls.client_ca_file.read_bytes() if tls.client_ca_file else None
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


@contextlib.asynccontextmanager
async def open_key_service(config: SignerConfig) -> AsyncIterator[KeyService]:
    """Open the configured key store and wrap it in a :class:`KeyService`; close it on exit.

    Raises:
        ConfigError: the default alias has no passphrase.
        KeyStoreError: the store cannot be opened.
    """
    check_default_passphrase(config)
    store = await open_keystore(config.storage.backend, config.storage.db_url)
    try:
        await store.check_health()
        if config.storage.backend != "memory":
            await check_passphrases(store, config.passphrases)
        keys = KeyService(
            store,
            config.passphrases,
            config.storage.default_alias,
            encrypt=config.storage.backend != "memory",
        )
        try:
            yield keys
        finally:
            await keys.close()
    finally:
        await store.close()


async def check_passphrases(store: KeyStore, passphrases: Passphrases) -> None:
    """Decrypt one stored key per passphrase alias: a wrong passphrase stops the signer here.

    Go's signer (and ours, before issue #19) started, reported healthy and
    failed every signature with such a key.

    Raises:
        ConfigError: an alias has no passphrase, or its passphrase does not
            decrypt the key; the message names the alias and the variable.
        KeyStoreError: the database failed.
    """
    for record in await store.one_key_per_alias():
        alias = record.passphrase_alias
        if not alias:
            continue
        try:
            passphrase = passphrases.get(alias)
        except PassphraseError as e:
            raise ConfigError(
                f"keys are encrypted under passphrase alias {alias!r}, but {env_name(alias)} "
                "is not set"
            ) from e
        try:
            await asyncio.to_thread(jwe.decrypt, record.private, passphrase)
        except KeyDecryptionError as e:
            raise ConfigError(
                f"the passphrase in {env_name(alias)} does not decrypt key {record.key_id} "
                f"(passphrase alias {alias!r}): is it the right one? ({e})"
            ) from e
        logger.debug("passphrase alias %r decrypts key %s", alias, record.key_id)


async def start_server(
    keys: KeyService, tls: TLSConfig, address: str
) -> tuple[Any, health.aio.HealthServicer, int]:
    """Create and start a ``grpc.aio`` server on ``address`` (port 0: any free port).

    Returns:
        The server, its health servicer and the port it listens on.

    Raises:
        AddressInUseError: another process listens on ``address``.
        OSError: the address cannot be bound.
    """
    check_address_free(address)
    server = grpc.aio.server(options=SERVER_OPTIONS)
    add_servicers(server, keys)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    try:
        port = server.add_secure_port(address, server_credentials(tls))
    except RuntimeError as e:  # grpc >= 1.5x raises instead of returning 0
        raise OSError(errno.EADDRNOTAVAIL, f"{address}: cannot listen ({e})") from e
    if not port:
        raise OSError(errno.EADDRNOTAVAIL, f"{address}: cannot listen")
    await server.start()
    for name in (HEALTH_KEY_MANAGEMENT, HEALTH_SIGNER):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, health_servicer, port


async def serve(
    config: SignerConfig,
    *,
    stop: asyncio.Event | None = None,
    on_started: Callable[[int], None] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT (or until ``stop`` is set), then stop gracefully.

    Args:
        config: The loaded configuration.
        stop: Set it to stop (tests); signals set it too.
        on_started: Called with the bound port once the server listens.

    Raises:
        ConfigError: the default alias has no passphrase.
        KeyStoreError: the key store cannot be opened.
        OSError: the address cannot be bound.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    try:
        check_address_free(config.grpc_addr)  # before the key store is opened and checked
        async with open_key_service(config) as keys:
            server, health_servicer, port = await start_server(keys, config.tls, config.grpc_addr)
            logger.info("notary-signer listening on %s (port %d)", config.grpc_addr, port)
            if on_started is not None:
                on_started(port)
            try:
                await stop.wait()
                logger.info("stopping: waiting up to %.0fs for calls in flight", STOP_GRACE_SECONDS)
            finally:
                await health_servicer.enter_graceful_shutdown()
                await server.stop(STOP_GRACE_SECONDS)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
