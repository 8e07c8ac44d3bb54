"""Probe a running notary server or signer, given the configuration file it runs with.

Usage (the compose health checks; exit status 0 = healthy)::

    python scripts/healthcheck.py deploy/server-config.json
    python scripts/healthcheck.py deploy/signer-config.json

A file with ``server.grpc_addr`` is a signer's: the probe asks the gRPC health
service for the two names Go's server checks (``grpc.health.v1.Health.KeyManagement``
and ``…Signer``) over mutual TLS, presenting the signer's own certificate (it
carries clientAuth) and trusting ``server.client_ca_file``. A file with
``server.http_addr`` is a server's: the probe gets ``/_notary_server/health``,
over HTTPS when ``server.tls_cert_file`` is set, trusting
``trust_service.tls_ca_file`` (or ``--ca``). An address without a host
(``:4443``) is probed on 127.0.0.1.

It reads Go's keys only (no ``NOTARY_*`` environment overrides) and imports
nothing from this project, so an image can run it beside either service.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

SIGNER_HEALTH_NAMES: Final = (
    "grpc.health.v1.Health.KeyManagement",
    "grpc.health.v1.Health.Signer",
)


class ProbeError(Exception):
    """The service is not healthy, or the configuration cannot be probed."""


def _get(document: dict[str, Any], key: str) -> str:
    node: Any = document
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, str) else ""


def _path(config: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else config.resolve().parent / path


def _target(address: str, host: str) -> str:
    listen_host, _, port = address.rpartition(":")
    return f"{host or listen_host.strip('[]') or '127.0.0.1'}:{port}"


def probe_signer(config: Path, *, host: str = "", timeout: float = 3.0) -> None:
    """Check a signer's gRPC health over mutual TLS.

    Raises:
        ProbeError: a service name is not SERVING, or the signer does not answer.
    """
    import grpc  # noqa: PLC0415 - only the signer probe needs grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415

    document = json.loads(config.read_text(encoding="utf-8"))
    ca = _get(document, "server.client_ca_file")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_path(config, ca).read_bytes() if ca else None,
        private_key=_path(config, _get(document, "server.tls_key_file")).read_bytes(),
        certificate_chain=_path(config, _get(document, "server.tls_cert_file")).read_bytes(),
    )
    target = _target(_get(document, "server.grpc_addr"), host)
    with grpc.secure_channel(target, credentials) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for name in SIGNER_HEALTH_NAMES:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=timeout)
            except grpc.RpcError as e:
                raise ProbeError(f"{target}: {name}: {e.code().name}") from e
            if reply.status != health_pb2.HealthCheckResponse.SERVING:
                raise ProbeError(f"{target}: {name} is not serving")


def probe_server(
    config: Path, *, host: str = "", ca: Path | None = None, timeout: float = 3.0
) -> None:
    """Check a server's ``/_notary_server/health``.

    Raises:
        ProbeError: the answer is not 200, or the server does not answer.
    """
    document = json.loads(config.read_text(encoding="utf-8"))
    target = _target(_get(document, "server.http_addr"), host)
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    scheme = "http"
    if _get(document, "server.tls_cert_file"):
        scheme = "https"
        ca_value = _get(document, "trust_service.tls_ca_file")
        cafile = ca or (_path(config, ca_value) if ca_value else None)
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
        handlers.append(urllib.request.HTTPSHandler(context=context))
    url = f"{scheme}://{target}/_notary_server/health"
    try:
        with urllib.request.build_opener(*handlers).open(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as e:
        raise ProbeError(f"{url}: {e.code}") from e
    except OSError as e:
        raise ProbeError(f"{url}: {e}") from e
    if status != 200:  # noqa: PLR2004
        raise ProbeError(f"{url}: {status}")


def probe(config: Path, *, host: str = "", ca: Path | None = None, timeout: float = 3.0) -> None:
    """Probe whichever service ``config`` configures.

    Raises:
        ProbeError: the service is unhealthy, or ``config`` configures neither service.
    """
    try:
        document = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ProbeError(f"{config}: {e}") from e
    try:
        if _get(document, "server.grpc_addr"):
            probe_signer(config, host=host, timeout=timeout)
        elif _get(document, "server.http_addr"):
            probe_server(config, host=host, ca=ca, timeout=timeout)
        else:
            raise ProbeError(f"{config}: neither server.grpc_addr nor server.http_addr is set")
    except OSError as e:  # unreadable certificate files
        raise ProbeError(f"{config}: {e}") from e


def main(argv: Sequence[str] | None = None) -> int:
    """Probe and report; the exit status is 0 when healthy, 1 otherwise."""
    parser = argparse.ArgumentParser(description="Probe a notary server or signer.")
    parser.add_argument("config", type=Path, help="the service's Go-format configuration file")
    parser.add_argument("--host", default="", help="address to probe (default: from the file)")
    parser.add_argument("--ca", type=Path, help="CA for the server's certificate")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds (default: 3)")
    args = parser.parse_args(argv)
    try:
        probe(args.config, host=args.host, ca=args.ca, timeout=args.timeout)
    except ProbeError as e:
        sys.stderr.write(f"unhealthy: {e}\n")
        return 1
    sys.stdout.write("healthy\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
