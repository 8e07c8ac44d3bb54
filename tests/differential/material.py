"""Files a walk hands to the CLI: delegation keys and target payloads.

Both sides of a walk read the very same files, so delegation key IDs are equal on
both sides; each file's text is kept so a replay script can recreate it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from notary_tuf.keys import PublicKey
from testkit.gotools import make_delegation_key

if TYPE_CHECKING:
    from pathlib import Path

FILES_DIR = "@F"
"""Placeholder for the material directory inside operation arguments."""


@dataclass(frozen=True)
class WalkKey:
    """A delegation key: the PEM ``delegation add`` reads and the private key ``key import`` reads.

    ``tuf_id`` is the ID in targets metadata (``delegation list``, ``delegation remove``);
    ``canonical_id`` the one ``delegation purge --key`` and the keystore use. They differ
    for certificates (``ecdsa-x509``) and agree for plain ``PUBLIC KEY`` PEMs.
    """

    name: str
    public_file: str
    private_file: str
    tuf_id: str
    canonical_id: str


@dataclass
class Material:
    """The material directory of one walk and the text of every file written to it."""

    directory: Path
    texts: dict[str, str] = field(default_factory=dict)
    keys: dict[str, WalkKey] = field(default_factory=dict)

    def write(self, name: str, text: str) -> str:
        """Write ``text`` to ``name`` (once; same name, same text) and return its ``@F`` path."""
        if self.texts.setdefault(name, text) != text:
            raise ValueError(f"material file {name} written twice with different text")
        path = self.directory / name
        if not path.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        return f"{FILES_DIR}/{name}"

    def add_key(self, name: str, *, as_certificate: bool) -> WalkKey:
        """Create delegation key ``name`` as a certificate or a bare public key PEM."""
        made = make_delegation_key(self.directory / ".keys", name)
        key_pem = made.key_pem.decode()
        if as_certificate:
            cert = x509.load_pem_x509_certificate(made.cert_pem)
            public = PublicKey.from_certificate(cert)
            public_text = made.cert_pem.decode()
            public_file = self.write(f"{name}.crt", public_text)
        else:
            spki = (
                serialization.load_pem_private_key(made.key_pem, password=None)
                .public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
            public = PublicKey.from_public_key(serialization.load_pem_public_key(spki))
            public_file = self.write(f"{name}.pub", spki.decode())
        key = WalkKey(
            name=name,
            public_file=public_file,
            private_file=self.write(f"{name}.key", key_pem),
            tuf_id=public.key_id,
            canonical_id=public.canonical_key_id,
        )
        self.keys[name] = key
        return key

    def resolve(self, arg: str) -> str:
        """Replace the ``@F`` placeholder by the real directory."""
        return arg.replace(FILES_DIR, str(self.directory))
