"""Plain HTTP sent to the HTTPS port gets Go's 400, byte for byte (issue #19).

Go's net/http answers ``HTTP/1.0 400 Bad Request`` + ``Client sent an HTTP
request to an HTTPS server.`` when a connection's first five bytes start a plain
request; ours closed the connection, so the notary CLI printed ``EOF``. The
answer is compared with the Debian ``notary-server``'s own bytes, and the real
``notary`` CLI, pointed at ``http://``, now names the problem. Requests that are
not among Go's five prefixes (``DELETE``) still just fail the handshake, and TLS
clients are served as before, also after a client that sent its request in pieces.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from notary_server.tls_site import PLAIN_HTTP_ANSWER, looks_like_http
from testkit.gotools import GoNotaryServer, NotaryCLI, require_go_tools
from testkit.ourserver import OurNotaryServer

pytestmark = [pytest.mark.gotools, pytest.mark.timeout(180)]

GO_ANSWER = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"


def _exchange(port: int, *chunks: bytes) -> bytes:
    """Send ``chunks`` (pausing between them) and read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        for i, chunk in enumerate(chunks):
            if i:
                time.sleep(0.2)
            conn.sendall(chunk)
        received = b""
        while data := conn.recv(4096):
            received += data
        return received


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OurNotaryServer]:
    with OurNotaryServer(tmp_path_factory.mktemp("ours")) as server:
        yield server


def test_go_rule() -> None:
    assert PLAIN_HTTP_ANSWER == GO_ANSWER
    for start in (b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIONS"):
        assert looks_like_http(start + b" x") is True
    assert looks_like_http(b"\x16\x03\x01\x02\x00") is False
    assert looks_like_http(b"DELETE / HTTP/1.1") is False
    assert looks_like_http(b"GE") is None
    assert looks_like_http(b"GX") is False


def test_raw_plain_http_gets_gos_bytes(ours: OurNotaryServer) -> None:
    request = b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    assert _exchange(ours.port, request) == GO_ANSWER
    assert _exchange(ours.port, b"PO", b"ST /v2/x/_trust/tuf/ HTTP/1.1\r\n\r\n") == GO_ANSWER
    assert _exchange(ours.port, b"DELETE /v2/x/_trust/tuf/ HTTP/1.1\r\n\r\n") == b""
    # TLS is served as before, on new connections.
    assert ours.get("/_notary_server/health").status == 200


def test_same_bytes_as_go_notary_server(ours: OurNotaryServer, tmp_path: Path) -> None:
    require_go_tools()
    request = b"GET /_notary_server/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with GoNotaryServer(tmp_path / "go") as go:
        assert _exchange(go.port, request) == GO_ANSWER
    assert _exchange(ours.port, request) == GO_ANSWER


def test_notary_cli_with_an_http_url_names_the_problem(
    ours: OurNotaryServer, tmp_path: Path
) -> None:
    require_go_tools()
    cli = NotaryCLI(
        tmp_path / "cli", server_url=f"http://127.0.0.1:{ours.port}", ca_path=ours.ca_path
    )
    result = cli.run("list", "example.com/plain/http", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "EOF" not in output, output
    assert f"could not reach http://127.0.0.1:{ours.port}: 400" in output, output


def test_tls_clients_still_served(ours: OurNotaryServer) -> None:
    context = ssl.create_default_context(cafile=str(ours.ca_path))
    with (
        socket.create_connection(("127.0.0.1", ours.port), timeout=20) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        conn.sendall(b"GET /_notary_server/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = b""
        while data := conn.recv(4096):
            reply += data
    assert reply.startswith(b"HTTP/1.1 200 OK"), reply
