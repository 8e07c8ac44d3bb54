"""What the gate asks a verifier, and what a verifier answers.

The gate fetches the manifest from the registry first and hashes the bytes it
is about to serve, so every verifier judges the same thing: *this* manifest
(its digest and length) under the name and reference the client asked for.
Docker Content Trust (:mod:`notary_gate.dct`) is the verifier delivered now;
Notation and Cosign signatures, which live in the registry next to the image,
fit the same interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from notary_gate.policy import EnforceRule

__all__ = [
    "ALLOWED",
    "DIGEST_MISMATCH",
    "EXPIRED",
    "INVALID_TRUST_DATA",
    "SIGNED_INDEX_CHILD",
    "SIGNER_NOT_ALLOWED",
    "TRUST_SERVER_UNAVAILABLE",
    "UNSIGNED",
    "ManifestRef",
    "Verdict",
    "Verifier",
]

# Reasons: the ``reason`` label of the decision metric and the log field.
ALLOWED: Final = "signed"
SIGNED_INDEX_CHILD: Final = "signed_index_child"
UNSIGNED: Final = "unsigned"
DIGEST_MISMATCH: Final = "digest_mismatch"
SIGNER_NOT_ALLOWED: Final = "signer_not_allowed"
EXPIRED: Final = "expired"
INVALID_TRUST_DATA: Final = "invalid_trust_data"
TRUST_SERVER_UNAVAILABLE: Final = "trust_server_unavailable"


@dataclass(frozen=True, slots=True, kw_only=True)
class ManifestRef:
    """A manifest the registry is about to serve, and what the client asked for.

    Attributes:
        repository: the registry's repository name (``prod/app``).
        gun: the trust data's name for it (``registry.example.com/prod/app``).
        reference: the tag or digest from the request path.
        digest: ``sha256:<hex>`` of the manifest bytes the gate will serve.
        length: their length in bytes.
    """

    repository: str
    gun: str
    reference: str
    digest: str
    length: int

    @property
    def by_digest(self) -> bool:
        """Whether the client asked for a digest rather than a tag."""
        return ":" in self.reference

    @property
    def image(self) -> str:
        """The reference as ``docker pull`` spells it (``name:tag`` or ``name@digest``)."""
        separator = "@" if self.by_digest else ":"
        return f"{self.gun}{separator}{self.reference}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """A verifier's decision.

    Attributes:
        allowed: serve the manifest.
        reason: one of this module's reason constants.
        message: what the client is told on denial (one readable sentence).
        detail: machine-readable facts for the error body and the log line.
    """

    allowed: bool
    reason: str
    message: str
    detail: Mapping[str, Any] = field(default_factory=dict)


class Verifier(Protocol):
    """Decides whether a manifest may be served under a rule of the policy."""

    name: str
    """Short name, for logs and metrics (``dct``)."""

    async def verify(self, manifest: ManifestRef, rule: EnforceRule) -> Verdict:
        """Judge ``manifest``; never raises for untrusted or unavailable data (deny instead)."""
        ...

    async def check_health(self) -> str | None:
        """``None`` when the verifier's own dependencies answer, else what is wrong."""
        ...
