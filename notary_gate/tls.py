"""TLS contexts: the gate's listener, and its clients of the registry and the trust server.

The listener is set up as the server's (:func:`notary_runtime.tls.listener_context`).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from notary_gate.config import TLSFiles
from notary_runtime.tls import listener_context

__all__ = ["client_context", "server_context"]


def server_context(tls: TLSFiles) -> ssl.SSLContext:
    """A server context serving ``tls``'s certificate (TLS 1.2+).

    Raises:
        OSError, ssl.SSLError: a file is missing or invalid.
    """
    return listener_context(tls.cert_file, tls.key_file)


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """A client context trusting ``ca_file`` (the system store when ``None``).

    Raises:
        OSError, ssl.SSLError: the file is missing or invalid.
    """
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file is not None else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
