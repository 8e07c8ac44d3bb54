"""Fixtures for the signer tests: trustme TLS material, key services, a live gRPC signer."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import grpc
import pytest
import trustme

from notary_proto import signer_pb2_grpc
from notary_signer.config import Passphrases, TLSConfig
from notary_signer.keys import KeyService
from notary_signer.keystore import MemoryKeyStore
from notary_signer.keystore.migrate import migrate_postgres
from notary_signer.keystore.sqlite import open_sqlite
from notary_signer.server import start_server
from testkit.pg import admin_dsn, require_postgres, throwaway_database

ALIAS = "timestamp_1"
PASSPHRASE = "signer-test-passphrase-7f3a"
ENVIRON = {"NOTARY_SIGNER_TIMESTAMP_1": PASSPHRASE, "NOTARY_SIGNER_NEW_ALIAS": "rotated-pass-91"}


@dataclass(frozen=True)
class ClientCert:
    cert: bytes
    key: bytes


@dataclass(frozen=True)
class TLSFiles:
    """Server TLS files plus client material (good, foreign CA, expired)."""

    ca_pem: bytes
    server: TLSConfig
    client: ClientCert
    foreign_client: ClientCert
    expired_client: ClientCert
    ca_file: Path
    client_cert_file: Path
    client_key_file: Path


def _client(ca: trustme.CA, **kwargs: Any) -> ClientCert:
    leaf = ca.issue_cert("notary-server", **kwargs)
    return ClientCert(
        b"".join(blob.bytes() for blob in leaf.cert_chain_pems), leaf.private_key_pem.bytes()
    )


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return write_tls_files(tmp_path_factory.mktemp("signer-tls"))


def write_tls_files(base: Path) -> TLSFiles:
    """A fresh trustme CA, the signer's certificate and client certificates, under ``base``."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost", "notary-signer")
    cert_file, key_file, ca_file = base / "signer.crt", base / "signer.key", base / "ca.pem"
    cert_file.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    key_file.write_bytes(server.private_key_pem.bytes())
    ca_file.write_bytes(ca.cert_pem.bytes())
    client = _client(ca)
    (base / "client.crt").write_bytes(client.cert)
    (base / "client.key").write_bytes(client.key)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    return TLSFiles(
        ca_pem=ca.cert_pem.bytes(),
        server=TLSConfig(cert_file=cert_file, key_file=key_file, client_ca_file=ca_file),
        client=client,
        foreign_client=_client(trustme.CA()),
        expired_client=_client(ca, not_before=past - dt.timedelta(days=1), not_after=past),
        ca_file=ca_file,
        client_cert_file=base / "client.crt",
        client_key_file=base / "client.key",
    )


@pytest.fixture
def passphrases() -> Passphrases:
    return Passphrases(ENVIRON)


@pytest.fixture
async def memory_keys(passphrases: Passphrases) -> KeyService:
    return KeyService(MemoryKeyStore(), passphrases, "", encrypt=False)


@pytest.fixture
async def sqlite_keys(tmp_path: Path, passphrases: Passphrases) -> AsyncIterator[KeyService]:
    store = await open_sqlite(str(tmp_path / "signer.db"))
    try:
        yield KeyService(store, passphrases, ALIAS)
    finally:
        await store.close()


@pytest.fixture(params=["memory", "sqlite"])
async def keys(
    request: pytest.FixtureRequest,
    memory_keys: KeyService,
    tmp_path: Path,
    passphrases: Passphrases,
) -> AsyncIterator[KeyService]:
    if request.param == "memory":
        yield memory_keys
        return
    store = await open_sqlite(str(tmp_path / "signer.db"))
    try:
        yield KeyService(store, passphrases, ALIAS)
    finally:
        await store.close()


def channel_credentials(tls: TLSFiles, client: ClientCert | None) -> grpc.ChannelCredentials:
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=tls.ca_pem)
    return grpc.ssl_channel_credentials(
        root_certificates=tls.ca_pem, private_key=client.key, certificate_chain=client.cert
    )


@dataclass
class LiveSigner:
    port: int
    keys: KeyService
    channel: Any
    km: signer_pb2_grpc.KeyManagementAsyncStub
    signer: signer_pb2_grpc.SignerAsyncStub

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
async def live_signer(keys: KeyService, tls_files: TLSFiles) -> AsyncIterator[LiveSigner]:
    server, _, port = await start_server(keys, tls_files.server, "127.0.0.1:0")
    channel = grpc.aio.secure_channel(
        f"127.0.0.1:{port}", channel_credentials(tls_files, tls_files.client)
    )
    try:
        yield LiveSigner(
            port,
            keys,
            channel,
            # grpc.aio channels are untyped; the .pyi's async overloads need a typed one.
            cast(
                "signer_pb2_grpc.KeyManagementAsyncStub", signer_pb2_grpc.KeyManagementStub(channel)
            ),
            cast("signer_pb2_grpc.SignerAsyncStub", signer_pb2_grpc.SignerStub(channel)),
        )
    finally:
        await channel.close()
        await server.stop(None)


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    dsn = admin_dsn()
    require_postgres(dsn)
    return dsn


@pytest.fixture(scope="session")
def postgres_db(postgres_admin: str) -> Iterator[str]:
    with throwaway_database(postgres_admin, "notary_signer_test") as dsn:
        asyncio.run(migrate_postgres(dsn))
        yield dsn


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """A key store kind and, for PostgreSQL, a migrated database's DSN.

    Sync on purpose: testkit.pg's helpers run their own event loop.
    """
    if request.param == "postgres":
        return "postgres", str(request.getfixturevalue("postgres_db"))
    return str(request.param), ""
