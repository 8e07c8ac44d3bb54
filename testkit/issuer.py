"""A token issuer for tests: a root CA, a signing certificate, tokens good and bad.

:class:`TestIssuer` writes ``rootcertbundle`` (and the built-in issuer's key,
certificate and htpasswd file) and mints tokens the way docker/distribution's
token servers do, with knobs to break each thing the server checks.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from notary_server.auth.libtrust import jose_b64encode, key_id
from notary_server.config import TokenAuthConfig

ISSUER = "test-issuer"
SERVICE = "notary-test"
REALM = "https://auth.example.com/token"

KeyMode = Literal["x5c", "kid", "jwk", "jwk-x5c", "none"]
Grant = tuple[str, str, tuple[str, ...]]
SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_cert(
    key: SigningKey | ed25519.Ed25519PrivateKey,
    common_name: str,
    *,
    issuer_key: SigningKey | None = None,
    issuer_name: str | None = None,
    ca: bool = False,
    days: int = 365,
    not_before: dt.datetime | None = None,
) -> x509.Certificate:
    """A certificate for ``key``, self-signed unless ``issuer_key`` is given."""
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(issuer_name or common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    signer = issuer_key or key
    algorithm = None if isinstance(signer, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(signer, algorithm)


def der_b64(cert: x509.Certificate) -> str:
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    numbers = key.public_numbers()
    size = (key.curve.key_size + 7) // 8
    return {
        "kty": "EC",
        "crv": {256: "P-256", 384: "P-384", 521: "P-521"}[key.curve.key_size],
        "x": jose_b64encode(numbers.x.to_bytes(size, "big")),
        "y": jose_b64encode(numbers.y.to_bytes(size, "big")),
    }


def sign_jws(key: SigningKey, alg: str, signing_input: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        by_alg: dict[str, hashes.HashAlgorithm] = {
            "RS256": hashes.SHA256(),
            "RS384": hashes.SHA384(),
            "RS512": hashes.SHA512(),
        }
        return key.sign(signing_input, padding.PKCS1v15(), by_alg[alg])
    by_size: dict[int, hashes.HashAlgorithm] = {
        256: hashes.SHA256(),
        384: hashes.SHA384(),
        521: hashes.SHA512(),
    }
    r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(by_size[key.curve.key_size])))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def encode_jwt(header: dict[str, Any], claims: dict[str, Any], key: SigningKey, alg: str) -> str:
    signing_input = ".".join(
        jose_b64encode(json.dumps(part, separators=(",", ":")).encode())
        for part in (header, claims)
    )
    signature = sign_jws(key, alg, signing_input.encode())
    return f"{signing_input}.{jose_b64encode(signature)}"


@dataclass
class TestIssuer:
    """A root CA and a signing certificate issued by it; mints tokens."""

    __test__ = False  # not a pytest test class

    issuer: str = ISSUER
    service: str = SERVICE
    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    signer_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )

    def __post_init__(self) -> None:
        self.root_cert = make_cert(self.root_key, "test token root", ca=True)
        self.signer_cert = make_cert(
            self.signer_key,
            "test token signer",
            issuer_key=self.root_key,
            issuer_name="test token root",
        )

    def write_bundle(self, directory: Path) -> Path:
        path = directory / "token-root.pem"
        path.write_bytes(self.root_cert.public_bytes(serialization.Encoding.PEM))
        return path

    def write_builtin_files(
        self, directory: Path, users: dict[str, str]
    ) -> tuple[Path, Path, Path]:
        """Write the issuer key, certificate and an htpasswd file (bcrypt, cost 4)."""
        key_path, cert_path = directory / "issuer.key", directory / "issuer.crt"
        key_path.write_bytes(
            self.signer_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert_path.write_bytes(self.signer_cert.public_bytes(serialization.Encoding.PEM))
        htpasswd = directory / "htpasswd"
        lines = [
            f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}"
            for user, pw in users.items()
        ]
        htpasswd.write_text("\n".join(lines) + "\n")
        return htpasswd, key_path, cert_path

    def config(self, directory: Path, *, realm: str = REALM, **extra: Any) -> TokenAuthConfig:
        return TokenAuthConfig(
            realm=realm,
            service=self.service,
            issuer=self.issuer,
            root_cert_bundle=self.write_bundle(directory),
            **extra,
        )

    def options(self, directory: Path, *, realm: str = REALM) -> dict[str, Any]:
        """``auth.options`` for a server-config.json."""
        return {
            "realm": realm,
            "service": self.service,
            "issuer": self.issuer,
            "rootcertbundle": str(self.write_bundle(directory)),
        }

    def builtin_server_auth(self, directory: Path, users: dict[str, str]) -> dict[str, Any]:
        """The ``auth`` section of a server-config.json: the built-in issuer, autoredirect on."""
        htpasswd, key, cert = self.write_builtin_files(directory, users)
        options = self.options(directory, realm="") | {
            "autoredirect": True,
            "htpasswd": str(htpasswd),
            "issuer_key": str(key),
            "issuer_cert": str(cert),
        }
        return {"type": "token", "options": options}

    def builtin_config(
        self, directory: Path, users: dict[str, str], *, realm: str = REALM, **extra: Any
    ) -> TokenAuthConfig:
        """A :class:`TokenAuthConfig` with the built-in issuer, for an app built in process."""
        htpasswd, key, cert = self.write_builtin_files(directory, users)
        return self.config(
            directory, realm=realm, htpasswd=htpasswd, issuer_key=key, issuer_cert=cert, **extra
        )

    def claims(
        self,
        access: Sequence[Grant],
        *,
        subject: str = "alice",
        lifetime: int = 300,
        not_before: int = 0,
    ) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + lifetime,
            "nbf": now + not_before,
            "iat": now,
            "jti": "test",
            "access": [{"type": t, "name": n, "actions": list(a)} for t, n, a in access],
        }

    def header(self, mode: KeyMode = "x5c", alg: str = "ES256") -> dict[str, Any]:
        header: dict[str, Any] = {"typ": "JWT", "alg": alg}
        if mode == "x5c":
            header["x5c"] = [der_b64(self.signer_cert)]
        elif mode == "kid":  # only root keys are trusted by ID
            header["kid"] = key_id(self.root_key.public_key())
        elif mode == "jwk":
            header["jwk"] = public_jwk(self.root_key.public_key())
        elif mode == "jwk-x5c":
            header["jwk"] = public_jwk(self.signer_key.public_key()) | {
                "x5c": [der_b64(self.signer_cert)]
            }
        return header

    def key_for(self, mode: KeyMode) -> SigningKey:
        return self.root_key if mode in ("kid", "jwk") else self.signer_key

    def token(
        self,
        access: Sequence[Grant],
        *,
        mode: KeyMode = "x5c",
        header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
        **claim_args: Any,
    ) -> str:
        """A token for ``access``; ``claims`` entries override (``None`` removes) claims."""
        body = self.claims(access, **claim_args)
        for name, value in (claims or {}).items():
            if value is None:
                body.pop(name, None)
            else:
                body[name] = value
        head = self.header(mode) | (header or {})
        return encode_jwt(head, body, self.key_for(mode), "ES256")
