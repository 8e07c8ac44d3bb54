"""Generate a development CA and the server, signer and client certificates.

Usage::

    python scripts/gen_dev_certs.py --out certs/          # what docker-compose.yml mounts
    python scripts/gen_dev_certs.py --out certs/ --force  # replace existing files

Writes, in the layout and with the names of Go notary's ``fixtures/`` (so Go's
configuration files and ours can point at them unchanged):

``root-ca.crt``
    The development CA. Clients trust it (``notary --tlscacert``,
    ``~/.docker/tls/<host:port>/ca.crt``); the signer trusts it for client
    certificates. Its private key is used once and never written to disk.
``notary-server.crt`` / ``.key``
    The server's certificate: DNS ``notary-server``, ``notaryserver``,
    ``localhost``, IP ``127.0.0.1``.
``notary-signer.crt`` / ``.key``
    The signer's certificate: DNS ``notary-signer``, ``notarysigner``,
    ``localhost``, IP ``127.0.0.1``.
``notary-client.crt`` / ``.key``
    The client certificate the server presents to the signer (mutual TLS).

The leaves carry both serverAuth and clientAuth, as Go's fixtures do, so a
service can also probe itself with its own certificate (the compose health
checks). Keys are ECDSA P-256, written PKCS#8 unencrypted with mode 0600.
These are development certificates: production deployments bring their own.

Only ``cryptography`` is needed; the script imports nothing from this project.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from collections.abc import Sequence

CA_FILE: Final = "root-ca.crt"
CA_DAYS: Final = 3650
LEAF_DAYS: Final = 825  # the longest lifetime macOS and browsers accept for TLS leaves


@dataclass(frozen=True)
class Leaf:
    """One certificate to issue: its file stem, common name and DNS names."""

    stem: str
    common_name: str
    dns_names: tuple[str, ...]


LEAVES: Final = (
    Leaf("notary-server", "notary-server", ("notary-server", "notaryserver", "localhost")),
    Leaf("notary-signer", "notary-signer", ("notary-signer", "notarysigner", "localhost")),
    Leaf("notary-client", "notary-server-client", ()),
)
LOOPBACK: Final = ipaddress.IPv4Address("127.0.0.1")


def output_files() -> list[str]:
    """Return the names of every file :func:`generate` writes."""
    return [CA_FILE, *(f"{leaf.stem}{ext}" for leaf in LEAVES for ext in (".crt", ".key"))]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "notary-py development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    path.chmod(0o600)  # O_CREAT's mode does not apply to a file that existed


def generate(out: Path, *, now: dt.datetime | None = None) -> list[Path]:
    """Write the CA certificate and the three key pairs into ``out``.

    Args:
        out: the directory (created if missing).
        now: the validity start (default: the current time).

    Returns:
        The files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("notary-py development CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    written = [out / CA_FILE]
    written[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    for leaf in LEAVES:
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in leaf.dns_names]
        if leaf.dns_names:
            names.append(x509.IPAddress(LOOPBACK))
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(leaf.common_name))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        cert_path, key_path = out / f"{leaf.stem}.crt", out / f"{leaf.stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key_path, key)
        written += [cert_path, key_path]
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and generate the certificates.

    Returns:
        0 on success, 1 when files exist and ``--force`` was not given.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--out", type=Path, default=Path("certs"), help="directory (default: certs)"
    )
    parser.add_argument("--force", action="store_true", help="replace existing files")
    args = parser.parse_args(argv)
    existing = [name for name in output_files() if (args.out / name).exists()]
    if existing and not args.force:
        sys.stderr.write(
            f"{args.out}: {', '.join(existing)} already exist; pass --force to replace them\n"
        )
        return 1
    for path in generate(args.out):
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
