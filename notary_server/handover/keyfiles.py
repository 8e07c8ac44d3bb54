"""Finding and opening the owner's root key in a notary or docker trust directory.

The Go client keeps each private key in ``<trust dir>/private/<key id>.key``
(``~/.notary/private``, ``~/.docker/trust/private``): a PEM block with ``role:``
(and ``gun:``) headers, holding PKCS#8 encrypted with PBES2 (PBKDF2-HMAC-SHA1,
AES-256-CBC; Go ``tuf/utils/pkcs8.go``). ``cryptography`` refuses those files as
they are: Go writes an ECDSA key as PKCS#8 *version 1* without the public key
that version requires. So the PBES2 layer is opened here with ``cryptography``'s
PBKDF2 and AES, and the key inside (SEC1, PKCS#1 or Go's Ed25519 seed) is loaded
by ``cryptography`` (ADR 0022).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from notary_tuf.crypto import PrivateKey
from notary_tuf.errors import KeyFormatError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "KeyFile",
    "KeyFileError",
    "WrongPassphraseError",
    "default_trust_dirs",
    "open_key_file",
    "scan_key_files",
]

# DER bodies of the object identifiers met in Go's key files.
_PBES2: Final = bytes.fromhex("2a864886f70d01050d")
_PBKDF2: Final = bytes.fromhex("2a864886f70d01050c")
_HMAC_SHA1: Final = bytes.fromhex("2a864886f70d0207")
_HMAC_SHA256: Final = bytes.fromhex("2a864886f70d0209")
_AES_CBC: Final = {
    bytes.fromhex("608648016503040102"): 16,
    bytes.fromhex("608648016503040116"): 24,
    bytes.fromhex("60864801650304012a"): 32,
}
_GO_ED25519: Final = bytes.fromhex("2b06010401da470f01")
_SEQUENCE, _INTEGER, _OCTETS, _OID = 0x30, 0x02, 0x04, 0x06


class KeyFileError(Exception):
    """A key file cannot be read or decrypted."""


class WrongPassphraseError(KeyFileError):
    """The passphrase does not open the key file."""


@dataclass(frozen=True, slots=True)
class KeyFile:
    """A private key file of a trust directory, not yet decrypted."""

    path: Path
    role: str
    gun: str | None
    kind: str
    der: bytes


def default_trust_dirs(env: Mapping[str, str]) -> list[Path]:
    """``~/.notary`` (the notary CLI) and ``$DOCKER_CONFIG/trust`` or ``~/.docker/trust``."""
    home = Path(env.get("HOME", str(Path.home())))
    docker = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else home / ".docker"
    return [home / ".notary", docker / "trust"]


def _parse_pem(path: Path, text: str) -> KeyFile:
    lines = [line.strip() for line in text.strip().splitlines()]
    if not lines or not lines[0].startswith("-----BEGIN ") or not lines[-1].startswith("-----END"):
        raise KeyFileError(f"{path}: not a PEM file")
    kind = lines[0].removeprefix("-----BEGIN ").removesuffix("-----")
    headers: dict[str, str] = {}
    body: list[str] = []
    for line in lines[1:-1]:
        name, colon, value = line.partition(":")
        if colon and not body:
            headers[name.strip()] = value.strip()
        elif line:
            body.append(line)
    try:
        der = base64.b64decode("".join(body), validate=True)
    except ValueError as e:
        raise KeyFileError(f"{path}: broken PEM body") from e
    role = headers.get("role") or ("root" if path.stem.endswith("_root") else "")
    return KeyFile(path=path, role=role, gun=headers.get("gun"), kind=kind, der=der)


def scan_key_files(trust_dirs: Iterable[Path]) -> list[KeyFile]:
    """Every readable ``*.key`` under ``<dir>/private`` of each trust directory."""
    found = []
    for trust_dir in trust_dirs:
        private = trust_dir / "private"
        if not private.is_dir():
            continue
        for path in sorted(private.rglob("*.key")):
            try:
                found.append(_parse_pem(path, path.read_text(errors="replace")))
            except (OSError, KeyFileError):
                continue
    return found


def _read(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    """One DER element of type ``tag`` at ``pos``: its contents and the next position."""
    if pos + 2 > len(data) or data[pos] != tag:
        raise KeyFileError("unexpected ASN.1 structure")
    length, pos = data[pos + 1], pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4:  # noqa: PLR2004 - no key file is 4 GiB
            raise KeyFileError("unexpected ASN.1 length")
        length, pos = int.from_bytes(data[pos : pos + count], "big"), pos + count
    if pos + length > len(data):
        raise KeyFileError("truncated ASN.1 element")
    return data[pos : pos + length], pos + length


def _decrypt_pbes2(der: bytes, passphrase: bytes) -> bytes:
    info, _ = _read(der, 0, _SEQUENCE)
    algorithm, pos = _read(info, 0, _SEQUENCE)
    encrypted, _ = _read(info, pos, _OCTETS)
    oid, pos = _read(algorithm, 0, _OID)
    if oid != _PBES2:
        raise KeyFileError("only PBES2-encrypted PKCS#8 is supported")
    params, _ = _read(algorithm, pos, _SEQUENCE)
    kdf, pos = _read(params, 0, _SEQUENCE)
    scheme, _ = _read(params, pos, _SEQUENCE)
    kdf_oid, kdf_pos = _read(kdf, 0, _OID)
    if kdf_oid != _PBKDF2:
        raise KeyFileError("only PBKDF2 key derivation is supported")
    kdf_params, _ = _read(kdf, kdf_pos, _SEQUENCE)
    salt, pos = _read(kdf_params, 0, _OCTETS)
    iterations_der, pos = _read(kdf_params, pos, _INTEGER)
    prf: hashes.HashAlgorithm = hashes.SHA1()  # noqa: S303 - PBKDF2's default PRF, as Go writes it
    while pos < len(kdf_params):
        if kdf_params[pos] == _INTEGER:  # optional key length: implied by the cipher
            _, pos = _read(kdf_params, pos, _INTEGER)
            continue
        prf_algorithm, pos = _read(kdf_params, pos, _SEQUENCE)
        prf_oid, _ = _read(prf_algorithm, 0, _OID)
        if prf_oid == _HMAC_SHA256:
            prf = hashes.SHA256()
        elif prf_oid != _HMAC_SHA1:
            raise KeyFileError("unsupported PBKDF2 pseudo-random function")
    cipher_oid, pos = _read(scheme, 0, _OID)
    iv, _ = _read(scheme, pos, _OCTETS)
    key_length = _AES_CBC.get(cipher_oid)
    if key_length is None:
        raise KeyFileError("only AES-CBC encrypted keys are supported")
    key = PBKDF2HMAC(
        algorithm=prf,
        length=key_length,
        salt=salt,
        iterations=int.from_bytes(iterations_der, "big"),
    ).derive(passphrase)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    plain = decryptor.update(encrypted) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(plain) + unpadder.finalize()
    except ValueError as e:
        raise WrongPassphraseError("wrong passphrase") from e


def _load_pkcs8(der: bytes) -> PrivateKey:
    """Load PKCS#8 as Go writes it (version 1 without a public key, Go's Ed25519 OID)."""
    try:
        return PrivateKey.from_cryptography(serialization.load_der_private_key(der, None))
    except (ValueError, TypeError, UnsupportedAlgorithm, KeyFormatError):
        pass  # Go's own dialect of PKCS#8: open it by hand
    try:
        info, _ = _read(der, 0, _SEQUENCE)
        _, pos = _read(info, 0, _INTEGER)
        algorithm, pos = _read(info, pos, _SEQUENCE)
        inner, _ = _read(info, pos, _OCTETS)
        oid, _ = _read(algorithm, 0, _OID)
        if oid == _GO_ED25519:
            seed = ed25519.Ed25519PrivateKey.from_private_bytes(inner[:32])
            return PrivateKey.from_cryptography(seed)
        return PrivateKey.from_cryptography(serialization.load_der_private_key(inner, None))
    except (KeyFileError, ValueError, TypeError, UnsupportedAlgorithm, KeyFormatError) as e:
        raise WrongPassphraseError("wrong passphrase, or not a key") from e


def open_key_file(key_file: KeyFile, passphrase: str) -> PrivateKey:
    """Decrypt a key file (or load an unencrypted one).

    Raises:
        WrongPassphraseError: the passphrase does not open it.
        KeyFileError: it is not a key file Go's client writes.
    """
    if key_file.kind == "ENCRYPTED PRIVATE KEY":
        return _load_pkcs8(_decrypt_pbes2(key_file.der, passphrase.encode()))
    if key_file.kind in ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"):
        return _load_pkcs8(key_file.der)
    raise KeyFileError(f"{key_file.path}: unsupported PEM block {key_file.kind!r}")


def fingerprint(key_file: KeyFile) -> str:
    """A short, stable name for a key file in messages (its file name is the key ID)."""
    return key_file.path.stem.removesuffix("_root")[:12] or hashlib.sha256(key_file.der).hexdigest()


def passphrase_from_env(env: Mapping[str, str]) -> str | None:
    """``NOTARY_ROOT_PASSPHRASE``, else ``DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE``."""
    for name in ("NOTARY_ROOT_PASSPHRASE", "DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE"):
        value = env.get(name)
        if value:
            return value
    return None
