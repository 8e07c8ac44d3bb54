"""Go notary-signer's encryption of private keys at rest: JWE compact, PBES2 / A256GCM.

Port of what ``signer/keydbstore/sql_keydbstore.go`` does with
``github.com/dvsekhvalnov/jose2go`` (docs/protocol.md#key-encryption-at-rest), implemented with the
maintained ``joserfc`` library (ADR 0005):

* protected header, keys in Go's sorted order:
  ``{"alg":"PBES2-HS256+A128KW","enc":"A256GCM","p2c":8192,"p2s":"<12 random bytes>"}``
* key-encryption key = PBKDF2-HMAC-SHA256(passphrase, ``alg || 0x00 || p2s``, p2c, 16 bytes);
  a random 32-byte content key wrapped with AES key wrap; content AES-256-GCM.

Decryption takes ``p2c`` and ``p2s`` from the blob's header, as Go does;
joserfc refuses a ``p2c`` above 300,000, which bounds the work a corrupt or
hostile row can cause. Only the two algorithms above are accepted.

Neither the passphrase nor the plaintext ever appears in an exception message.
"""

from __future__ import annotations

import base64
import secrets
from typing import Final

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from notary_signer.errors import KeyDecryptionError

__all__ = ["ENCRYPTION_ALG", "KEYWRAP_ALG", "P2C", "SALT_SIZE", "decrypt", "encrypt"]

KEYWRAP_ALG: Final = "PBES2-HS256+A128KW"  # Go keydbstore.KeywrapAlg
ENCRYPTION_ALG: Final = "A256GCM"  # Go keydbstore.EncryptionAlg
P2C: Final = 8192  # jose2go's fixed iteration count
SALT_SIZE: Final = 12  # jose2go's p2s length in bytes

_REGISTRY: Final = jwe.JWERegistry(algorithms=[KEYWRAP_ALG, ENCRYPTION_ALG])


def _key(passphrase: str) -> OctKey:
    # OctKey.import_key warns about "short" keys; a passphrase is not a raw key
    # (PBKDF2 stretches it), so build the key object directly. Go accepts any
    # non-empty passphrase; the caller has already refused an empty one.
    raw = passphrase.encode("utf-8")
    return OctKey(raw, raw)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def encrypt(plaintext: bytes, passphrase: str) -> str:
    """Encrypt ``plaintext`` under ``passphrase`` exactly as the Go signer does.

    Args:
        plaintext: The private key bytes.
        passphrase: A non-empty passphrase.

    Returns:
        The JWE compact serialisation (ASCII).

    Raises:
        ValueError: ``passphrase`` is empty.
    """
    if not passphrase:
        raise ValueError("the passphrase must not be empty")
    header = {
        "alg": KEYWRAP_ALG,
        "enc": ENCRYPTION_ALG,
        "p2c": P2C,
        "p2s": _b64url(secrets.token_bytes(SALT_SIZE)),
    }
    return jwe.encrypt_compact(header, plaintext, _key(passphrase), registry=_REGISTRY)


def decrypt(blob: str | bytes, passphrase: str) -> bytes:
    """Decrypt a blob written by :func:`encrypt` or by the Go signer.

    Args:
        blob: The JWE compact serialisation, as text or as the bytes of a ``bytea``.
        passphrase: The passphrase of the row's alias.

    Returns:
        The plaintext.

    Raises:
        KeyDecryptionError: the blob is malformed, uses other algorithms, or the
            passphrase is wrong.
    """
    if not passphrase:
        raise KeyDecryptionError("the passphrase must not be empty")
    try:
        token = blob.decode("ascii") if isinstance(blob, bytes) else blob
        result = jwe.decrypt_compact(token, _key(passphrase), registry=_REGISTRY)
    except (JoseError, ValueError, TypeError, KeyError) as e:
        # The joserfc message names the failing step only; keep it, drop nothing secret.
        raise KeyDecryptionError(f"cannot decrypt private key: {type(e).__name__}") from e
    if result.plaintext is None:
        raise KeyDecryptionError("cannot decrypt private key: no content")
    return result.plaintext
