"""Domain errors of the signer.

Every error the signer's own code raises derives from :class:`SignerError`.
Third-party exceptions (``cryptography``, ``joserfc``, ``sqlite3``,
``asyncpg``) are wrapped where they enter our code. The gRPC layer
(:mod:`notary_signer.servicers`) is the one place that turns them into status
codes; none of these messages carries key material or passphrases, and the
servicers send clients fixed texts rather than these messages anyway.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "KeyDecryptionError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyStoreError",
    "PassphraseError",
    "SignerError",
    "UnsupportedAlgorithmError",
]


class SignerError(Exception):
    """Base class of the signer's errors."""


class ConfigError(SignerError):
    """The configuration is invalid; the message names the key (or file) and the reason."""


class UnsupportedAlgorithmError(SignerError):
    """A key algorithm the signer cannot create (Go: only ``ecdsa`` and ``ed25519``)."""


class KeyNotFoundError(SignerError):
    """No live key has the requested ID (Go ``trustmanager.ErrKeyNotFound``)."""

    def __init__(self, key_id: str) -> None:
        """Remember the key ID; the message is Go's ``signing key not found: <id>``."""
        super().__init__(f"signing key not found: {key_id}")
        self.key_id = key_id


class KeyExistsError(SignerError):
    """A key with this ID is already stored (``UNIQUE (key_id)``)."""


class KeyStoreError(SignerError):
    """The key database failed or is unusable."""


class PassphraseError(SignerError):
    """The passphrase for an alias is not set (Go: ``expected env variable to not be empty``)."""


class KeyDecryptionError(SignerError):
    """A stored private key cannot be decrypted or parsed (wrong passphrase, corrupt row)."""
