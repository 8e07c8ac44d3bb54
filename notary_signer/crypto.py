"""Signer keys: generation, Go's raw storage layout, signing; TLS file checks.

Port of the key helpers the Go signer uses (``tuf/utils/x509.go``
``GenerateECDSAKey``/``GenerateED25519Key``, ``tuf/data/keys.go`` private keys):

* ``ecdsa`` keys are NIST P-256. Stored private bytes are the SEC1
  ``ECPrivateKey`` DER (Go ``x509.MarshalECPrivateKey``); public bytes are the
  DER SubjectPublicKeyInfo.
* ``ed25519`` stored private bytes are 96 bytes, ``public(32) || seed(32) ||
  public(32)``: notary prepends the public key to Go's 64-byte private key
  (``seed || public``). Public bytes are the raw 32 bytes.

Signing is :class:`notary_tuf.crypto.PrivateKey`'s (docs/protocol.md#signing-methods):
ecdsa over the SHA-256 of the message as raw ``r || s``, ed25519 pure. The ``cryptography``
imports of the signer sit in this module.

Nothing here logs, and no error message includes key bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from notary_signer.errors import ConfigError, KeyDecryptionError, UnsupportedAlgorithmError
from notary_tuf.crypto import PrivateKey
from notary_tuf.errors import KeyFormatError
from notary_tuf.keys import KeyType, PublicKey

__all__ = ["SUPPORTED_ALGORITHMS", "SignerKey", "check_tls_material"]

SUPPORTED_ALGORITHMS: Final = (KeyType.ECDSA.value, KeyType.ED25519.value)
_ED25519_SIZE: Final = 32
_ED25519_STORED_SIZE: Final = 3 * _ED25519_SIZE


class SignerKey:
    """A private key the signer holds: ``ecdsa`` (P-256) or ``ed25519``."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: PrivateKey) -> None:
        """Wrap a key.

        Raises:
            UnsupportedAlgorithmError: the key is neither ecdsa nor ed25519.
        """
        if key.keytype not in SUPPORTED_ALGORITHMS:
            raise UnsupportedAlgorithmError(f"algorithm {key.keytype} not supported")
        self._key = key
        # Derived once: every Sign answer names the key ID, which is a hash of
        # the canonical public key (issue #20's profile showed it per call).
        self._public = key.public_key

    def __repr__(self) -> str:
        """Name the algorithm and key ID, never the key material."""
        return f"SignerKey({self.algorithm}, {self.key_id})"

    @classmethod
    def generate(cls, algorithm: str) -> SignerKey:
        """Generate a new key.

        Raises:
            UnsupportedAlgorithmError: ``algorithm`` is not ``ecdsa`` or ``ed25519``
                (Go's message: ``algorithm <a> not supported for create key``).
        """
        if algorithm not in SUPPORTED_ALGORITHMS:
            raise UnsupportedAlgorithmError(f"algorithm {algorithm} not supported for create key")
        return cls(PrivateKey.generate(algorithm))

    @classmethod
    def from_private_bytes(cls, algorithm: str, raw: bytes) -> SignerKey:
        """Load stored private bytes in Go's layout (see the module docstring).

        Raises:
            KeyDecryptionError: the bytes are not a key of ``algorithm``.
        """
        if algorithm == KeyType.ED25519:
            if len(raw) != _ED25519_STORED_SIZE:
                raise KeyDecryptionError("malformed ed25519 private key")
            public, seed, tail = raw[:32], raw[32:64], raw[64:]
            obj = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
            derived = obj.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
            if public != derived or tail != derived:
                raise KeyDecryptionError("ed25519 private key does not match its public key")
            return cls(PrivateKey(obj))
        if algorithm == KeyType.ECDSA:
            try:
                loaded = serialization.load_der_private_key(raw, password=None)
            except (ValueError, TypeError, UnsupportedAlgorithm) as e:
                raise KeyDecryptionError("malformed ecdsa private key") from e
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise KeyDecryptionError("stored ecdsa key is not an elliptic-curve key")
            try:
                return cls(PrivateKey(loaded))
            except KeyFormatError as e:
                raise KeyDecryptionError("unsupported ecdsa private key") from e
        raise KeyDecryptionError(f"cannot load stored keys of algorithm {algorithm!r}")

    @property
    def algorithm(self) -> str:
        """The TUF key type: ``ecdsa`` or ``ed25519``."""
        return self._key.keytype

    @property
    def public_key(self) -> PublicKey:
        """The TUF public key (its ``public`` bytes are what the RPCs return)."""
        return self._public

    @property
    def key_id(self) -> str:
        """The TUF key ID."""
        return self.public_key.key_id

    @property
    def signature_algorithm(self) -> str:
        """What Go's ``SignatureAlgorithm().String()`` returns: ``ecdsa`` or ``eddsa``."""
        return self._key.method

    def private_bytes(self) -> bytes:
        """Return the private bytes in Go's storage layout (secret: never log them)."""
        obj = self._key.cryptography_key
        if isinstance(obj, ed25519.Ed25519PrivateKey):
            seed = obj.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            public = self.public_key.public
            return public + seed + public
        return obj.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def sign(self, message: bytes) -> bytes:
        """Sign the full message as Notary does (docs/protocol.md#signing-methods)."""
        return self._key.sign(message)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the {what}: {e.strerror}") from e


def _certificates(path: Path, what: str) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(_read(path, what))
    except ValueError as e:
        raise ConfigError(f"{path}: not a PEM {what}") from e
    return certs


def check_tls_material(cert_file: Path, key_file: Path, client_ca_file: Path | None) -> None:
    """Check at startup that the TLS files parse and that the key fits the certificate.

    Raises:
        ConfigError: a file is unreadable or malformed; the message names the file
            (and never quotes its contents).
    """
    leaf = _certificates(cert_file, "certificate")[0]
    try:
        key = serialization.load_pem_private_key(_read(key_file, "private key"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise ConfigError(f"{key_file}: not an unencrypted PEM private key") from e
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != leaf.public_key().public_bytes(*spki):
        raise ConfigError(f"{key_file}: the private key does not match {cert_file}")
    if client_ca_file is not None:
        _certificates(client_ca_file, "CA certificate bundle")
