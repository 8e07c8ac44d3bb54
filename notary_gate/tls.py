"""TLS contexts: the gate's listener, and its clients of the registry and the trust server.

The listener's settings are the server's (``notary_server.workers.make_ssl_context``:
TLS 1.2 or later, the certificate chain from ``server.tls_*``); the gate may
not import the server, so the few lines live here too.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from notary_gate.config import TLSFiles

__all__ = ["client_context", "server_context"]


def server_context(tls: TLSFiles) -> ssl.SSLContext:
    """A server context serving ``tls``'s certificate (TLS 1.2+).

    Raises:
        OSError, ssl.SSLError: a file is missing or invalid.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """A client context trusting ``ca_file`` (the system store when ``None``).

    Raises:
        OSError, ssl.SSLError: the file is missing or invalid.
    """
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
