"""The TLS context of an HTTPS listener, as the server and the registry gate both serve.

TLS 1.2 or later (Go's servers default to the same floor), the certificate
chain from the service's ``tls_cert_file``/``tls_key_file``, and client
certificates required when a client CA is configured (Go's ``client_ca_file``).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["listener_context"]


def listener_context(
    cert_file: str | Path, key_file: str | Path, client_ca_file: str | Path | None = None
) -> ssl.SSLContext:
    """A server-side context serving ``cert_file``; mutual TLS when ``client_ca_file`` is set.

    Raises:
        OSError, ssl.SSLError: a file is missing or invalid, or the key does not
            match the certificate.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file is not None:
        context.load_verify_locations(client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
