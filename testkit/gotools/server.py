"""``notary-server`` on loopback: :class:`GoNotaryServer`, raw responses, multipart bodies."""

from __future__ import annotations

import json
import os
import secrets
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Self

import trustme

from notary_runtime.processes import (
    ChildProcess,
    NotReadyError,
    no_proxy_env,
    start_on_free_port,
    tail_of,
)
from testkit.gotools.common import NOTARY_SERVER_BIN, GoToolError

if TYPE_CHECKING:
    from email.message import Message
    from types import TracebackType


class Response(NamedTuple):
    """Raw HTTP response from the server under test."""

    status: int
    headers: Message
    body: bytes


class NotaryServerProcess:
    """A notary server process on ``127.0.0.1:<free port>`` over TLS, and an HTTPS client for it.

    The shared surface of :class:`GoNotaryServer` and ``testkit.ourserver.OurNotaryServer``
    (``url``, ``ca_path``, ``request``, ``get``, ``get_metadata``, ``upload``), so a
    test can drive either server the same way.  A subclass says how to configure
    and launch its process (:meth:`_write_config`, :meth:`_command`, optionally
    :meth:`_prepare`); this class writes the trustme TLS material and runs it as a
    ``notary_runtime.processes.ChildProcess`` (ADR 0030): on a free port (another
    one if that was taken meanwhile), waited for (bounded) on
    ``/_notary_server/health``, stopped with terminate, then kill.
    """

    name = "notary server"

    def __init__(self, workdir: Path, *, startup_timeout: float = 20.0) -> None:
        """Prepare (but do not start) a server whose files live under ``workdir``."""
        self.workdir = workdir
        self.startup_timeout = startup_timeout
        self.port = 0
        self.ca_path = workdir / "ca.pem"
        self.config_path = workdir / "server-config.json"
        self.log_path = workdir / "server.log"
        self._process: ChildProcess | None = None
        self._ssl: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        """Base URL, ``https://127.0.0.1:PORT``."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """Client TLS context trusting only the harness CA."""
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=str(self.ca_path))
        return self._ssl

    def __enter__(self) -> Self:
        """Start the server and wait until it is healthy."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    def _write_tls(self) -> tuple[Path, Path]:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ca.cert_pem.write_to_path(str(self.ca_path))
        cert_path = self.workdir / "server.crt"
        key_path = self.workdir / "server.key"
        with cert_path.open("wb") as fh:
            for blob in cert.cert_chain_pems:
                fh.write(blob.bytes())
        cert.private_key_pem.write_to_path(str(key_path))
        return cert_path, key_path

    def _write_config(self, cert_path: Path, key_path: Path) -> None:
        """Write :attr:`config_path` for :attr:`port` and the given TLS files."""
        raise NotImplementedError

    def _command(self) -> list[str]:
        """The server's argv."""
        raise NotImplementedError

    def _environment(self) -> dict[str, str]:
        """The server's environment."""
        return no_proxy_env(os.environ)

    def _prepare(self) -> None:
        """Run once the config is written, before the first start (e.g. a migration)."""

    def start(self) -> None:
        """Write config and TLS files, start the process, wait for health."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = self._write_tls()
        prepared = False

        def launch(port: int) -> None:
            nonlocal prepared
            self.port = port
            self._write_config(cert_path, key_path)
            if not prepared:
                self._prepare()
                prepared = True
            self._process = ChildProcess(
                self.name,
                self._command(),
                self.log_path,
                env=self._environment(),
                cwd=self.workdir,
                truncate_log=True,
                error=GoToolError,
            )
            self._process.start_ready(self._probe_health, self.startup_timeout)

        start_on_free_port(launch)

    def _probe_health(self) -> None:
        status, _, body = self.get("/_notary_server/health", timeout=2.0)
        if status != 200:
            raise NotReadyError(f"{status} {body!r}")

    @property
    def popen(self) -> subprocess.Popen[bytes] | None:
        """The running process (None before :meth:`start` and after :meth:`stop`)."""
        return self._process.popen if self._process is not None else None

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the server, killing it if it does not exit in ``timeout``."""
        process, self._process = self._process, None
        if process is not None:
            process.stop(timeout)

    @property
    def log(self) -> str:
        """The server's combined stdout/stderr so far."""
        return tail_of(self.log_path, limit=1_000_000)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Response:
        """Send one HTTPS request to the server; never raises for HTTP errors.

        Redirects are not followed (a 301 comes back as it is).
        """
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=self.ssl_context),
            _NoRedirect(),
        )
        req = urllib.request.Request(  # noqa: S310 - always https to loopback
            self.url + path, data=body, method=method, headers=dict(headers or {})
        )
        try:
            with opener.open(req, timeout=timeout) as resp:
                return Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            with err:
                return Response(err.code, err.headers, err.read())

    def get(self, path: str, *, timeout: float = 10.0) -> Response:
        """``GET path`` and return ``(status, headers, body)``."""
        return self.request("GET", path, timeout=timeout)

    def get_metadata(self, gun: str, name: str) -> Response:
        """``GET /v2/<gun>/_trust/tuf/<name>.json`` (``name`` e.g. ``3.root``)."""
        return self.get(f"/v2/{gun}/_trust/tuf/{name}.json")

    def upload(self, gun: str, parts: Mapping[str, bytes]) -> Response:
        """POST metadata like the Go client (``storage/httpstore.go`` NewMultiPartMetaRequest).

        Each role becomes a part with form name ``files``, filename = role name
        (no suffix, ``/`` kept) and ``Content-Type: application/octet-stream``.
        """
        body, content_type = multipart_body(parts)
        return self.request(
            "POST",
            f"/v2/{gun}/_trust/tuf/",
            body=body,
            headers={"Content-Type": content_type},
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand 3xx answers back as :class:`urllib.error.HTTPError` instead of following them."""

    def redirect_request(
        self,
        _req: urllib.request.Request,
        _fp: IO[bytes],
        _code: int,
        _msg: str,
        _headers: Message,
        _newurl: str,
    ) -> urllib.request.Request | None:
        return None


class GoNotaryServer(NotaryServerProcess):
    """Run ``/usr/bin/notary-server`` on ``127.0.0.1:<free port>`` over TLS.

    Defaults: in-memory storage, local (in-process ed25519) trust service, log level
    ``error``.  ``storage`` / ``trust_service`` replace the respective config
    sections (e.g. ``{"backend": "sqlite3", "db_url": "/tmp/x.db"}``); ``extra_config``
    is merged into the top level (e.g. ``{"caching": ...}``).
    """

    name = "notary-server"

    def __init__(
        self,
        workdir: Path,
        *,
        storage: Mapping[str, Any] | None = None,
        trust_service: Mapping[str, Any] | None = None,
        log_level: str = "error",
        extra_config: Mapping[str, Any] | None = None,
        startup_timeout: float = 20.0,
        binary: Path = NOTARY_SERVER_BIN,
    ) -> None:
        """Prepare (but do not start) a server whose files live under ``workdir``."""
        super().__init__(workdir, startup_timeout=startup_timeout)
        self.storage: dict[str, Any] = dict(storage or {"backend": "memory"})
        self.trust_service: dict[str, Any] = dict(trust_service or {"type": "local"})
        self.log_level = log_level
        self.extra_config: dict[str, Any] = dict(extra_config or {})
        self.binary = binary
        self.log_path = workdir / "notary-server.log"

    def _write_config(self, cert_path: Path, key_path: Path) -> None:
        config: dict[str, Any] = {
            "server": {
                "http_addr": f"127.0.0.1:{self.port}",
                "tls_cert_file": str(cert_path),
                "tls_key_file": str(key_path),
            },
            "trust_service": self.trust_service,
            "logging": {"level": self.log_level},
            "storage": self.storage,
        }
        config.update(self.extra_config)
        self.config_path.write_text(json.dumps(config, indent=2))

    def _command(self) -> list[str]:
        return [str(self.binary), "-config", str(self.config_path)]


def _escape_quotes(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def multipart_body(parts: Mapping[str, bytes], boundary: str | None = None) -> tuple[bytes, str]:
    """Encode ``parts`` exactly as Go's ``multipart.Writer.CreateFormFile`` does.

    Returns:
        The body and the matching ``Content-Type`` header value.
    """
    boundary = boundary or secrets.token_hex(30)
    out = bytearray()
    for index, (role, blob) in enumerate(parts.items()):
        out += b"\r\n" if index else b""
        out += f"--{boundary}\r\n".encode()
        out += (
            f'Content-Disposition: form-data; name="files"; filename="{_escape_quotes(role)}"\r\n'
        ).encode()
        out += b"Content-Type: application/octet-stream\r\n\r\n"
        out += blob
    out += f"\r\n--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"
