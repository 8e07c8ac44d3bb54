"""``server.workers``: several processes on one port, coherent caches, TLS reload on SIGHUP.

A Go ``notary-signer`` holds the keys (several workers need a remote trust
service). A second, single-process server on the same database publishes; the
two workers must both serve the new state on the very next request. The test
holds enough connections open to see, through ``/proc``, that both workers
answer some of them.
"""

from __future__ import annotations

import asyncio
import http.client
import signal
import ssl
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme

from bench.procfs import TCP_ESTABLISHED, socket_ports
from notary_signer.config import TLSConfig
from testkit.gotools import require_go_tools
from testkit.pg import admin_dsn, create_database, drop_database, require_postgres
from tests.perf_coherence.helpers import Publisher, WorkerServer, psql
from tests.signer.conftest import ClientCert, TLSFiles
from tests.signer.gosigner import SignerProcess, require_go_signer

if TYPE_CHECKING:
    from collections.abc import Iterator

CONNECTIONS = 16
ROUNDS = 8


@pytest.fixture(scope="module")
def signer_tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    base = tmp_path_factory.mktemp("signer-tls")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost", "notary-signer")
    (base / "signer.crt").write_bytes(b"".join(b.bytes() for b in server.cert_chain_pems))
    (base / "signer.key").write_bytes(server.private_key_pem.bytes())
    (base / "ca.pem").write_bytes(ca.cert_pem.bytes())
    leaf = ca.issue_cert("notary-server")
    client = ClientCert(
        b"".join(b.bytes() for b in leaf.cert_chain_pems), leaf.private_key_pem.bytes()
    )
    (base / "client.crt").write_bytes(client.cert)
    (base / "client.key").write_bytes(client.key)
    return TLSFiles(
        ca_pem=ca.cert_pem.bytes(),
        server=TLSConfig(
            cert_file=base / "signer.crt",
            key_file=base / "signer.key",
            client_ca_file=base / "ca.pem",
        ),
        client=client,
        foreign_client=client,
        expired_client=client,
        ca_file=base / "ca.pem",
        client_cert_file=base / "client.crt",
        client_key_file=base / "client.key",
    )


@pytest.fixture(scope="module")
def servers(
    signer_tls: TLSFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerServer, WorkerServer, str]]:
    """(a publisher with one process, a server with two workers, the database DSN)."""
    require_go_signer()
    require_go_tools()
    admin = admin_dsn()
    require_postgres(admin)
    base = tmp_path_factory.mktemp("workers")
    dsn = asyncio.run(create_database(admin, "notary_workers"))
    try:
        with SignerProcess(base / "signer", signer_tls, {"backend": "memory"}, {}) as signer:
            trust = {
                "type": "remote",
                "hostname": "127.0.0.1",
                "port": str(signer.port),
                "tls_ca_file": str(signer_tls.ca_file),
                "tls_client_cert": str(signer_tls.client_cert_file),
                "tls_client_key": str(signer_tls.client_key_file),
                "key_algorithm": "ecdsa",
            }
            with (
                # One server on each event loop (ADR 0016): the publisher signs through
                # the Go signer on uvloop, the workers serve on the standard loop.
                WorkerServer(
                    base / "one", db_url=dsn, trust_service=trust, event_loop="uvloop"
                ) as one,
                WorkerServer(
                    base / "two", db_url=dsn, workers=2, trust_service=trust, event_loop="asyncio"
                ) as two,
            ):
                yield one, two, dsn
    finally:
        asyncio.run(drop_database(admin, dsn))


def _open(server: WorkerServer, context: ssl.SSLContext) -> http.client.HTTPSConnection:
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=context, timeout=10)
    conn.connect()
    return conn


def _get(conn: http.client.HTTPSConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_both_workers_serve_and_see_every_publish_at_once(
    servers: tuple[WorkerServer, WorkerServer, str],
) -> None:
    one, two, dsn = servers
    gun = "example.com/workers/app"
    publisher = Publisher(one, gun)
    conns = [_open(two, two.ssl_context) for _ in range(CONNECTIONS)]
    try:
        targets_path = f"/v2/{gun}/_trust/tuf/targets.json"
        targets = publisher.publish()
        for conn in conns:  # every connection answered; both workers' caches warm
            assert _get(conn, targets_path) == (200, targets)
        held = [
            socket_ports(pid, two.port, TCP_ESTABLISHED) & {c.sock.getsockname()[1] for c in conns}
            for pid in two.worker_pids()
        ]
        assert len(held) == 2
        assert all(held), f"one worker holds no connection: {held}"  # both serve
        for _ in range(ROUNDS):
            targets = publisher.publish()
            for conn in conns:
                assert _get(conn, targets_path) == (200, targets)
        psql(dsn, "DELETE FROM tuf_files WHERE gun = $1", gun)
        for conn in conns:
            assert _get(conn, targets_path)[0] == 404
    finally:
        for conn in conns:
            conn.close()


def test_each_server_runs_on_the_event_loop_it_was_given(
    servers: tuple[WorkerServer, WorkerServer, str],
) -> None:
    one, two, _ = servers
    assert "on the uvloop event loop" in one.log_path.read_text()
    assert "on the asyncio event loop" in two.log_path.read_text()


def test_sighup_reloads_the_certificate_in_every_worker(
    servers: tuple[WorkerServer, WorkerServer, str], tmp_path: Path
) -> None:
    _, two, _ = servers
    health = "/_notary_server/health"
    old = [_open(two, two.ssl_context) for _ in range(CONNECTIONS)]
    try:
        old_der = old[0].sock.getpeercert(binary_form=True)
        ca = trustme.CA()
        issued = ca.issue_cert("127.0.0.1", "localhost")
        (two.workdir / "server.crt").write_bytes(
            b"".join(blob.bytes() for blob in issued.cert_chain_pems)
        )
        issued.private_key_pem.write_to_path(str(two.workdir / "server.key"))
        assert two.popen is not None
        two.popen.send_signal(signal.SIGHUP)  # to the supervisor
        new_context = ssl.create_default_context()
        ca.configure_trust(new_context)
        # Bounded wait for the workers to handle the signal (no timing assertion).
        for _ in range(100):
            if _reloaded(two, new_context):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the new certificate was never served")
        for _ in range(CONNECTIONS):  # every worker presents the new one
            conn = _open(two, new_context)
            assert conn.sock.getpeercert(binary_form=True) != old_der
            assert _get(conn, health)[0] == 200
            conn.close()
        for conn in old:  # connections opened before the reload keep working
            assert _get(conn, health)[0] == 200
    finally:
        for conn in old:
            conn.close()


def _reloaded(server: WorkerServer, context: ssl.SSLContext) -> bool:
    """Whether CONNECTIONS new connections in a row verify against ``context`` (the new CA)."""
    try:
        for _ in range(CONNECTIONS):
            _open(server, context).close()
    except ssl.SSLError:
        return False
    return True
