"""The errors of the TUF-format core.

Two families, split by fault as python-tuf does:

* ``FormatError`` and its subclasses: the input is not well-formed Notary
  metadata (bad JSON, a missing or mistyped field, bad base64, wrong ``_type``).
* ``VerificationError`` and its subclasses: the input is well-formed but not
  trustworthy (bad signature, threshold not met, expired, certificate problems).

``ValidationError`` and its four subclasses are the five error types Go notary's
server reports for a rejected upload (Go ``tuf/validation/errors.go``). They carry
the fields Go serialises into the ``INVALID_UPDATE`` error detail, which the Go
client turns back into typed errors.

Every exception this package raises on bad input is a ``NotaryTufError``; third
party exceptions are wrapped where they enter the code.
"""

from __future__ import annotations

from typing import Any, ClassVar


class NotaryTufError(Exception):
    """Base class of every error raised by ``notary_tuf``."""


# --- Format -----------------------------------------------------------------


class FormatError(NotaryTufError):
    """Input is not well-formed Notary metadata; the message names the field."""


class JSONFormatError(FormatError):
    """Bytes are not a JSON document Go's decoder would accept."""


class CanonicalizationError(FormatError):
    """A value cannot be written as canonical JSON (for example a float)."""


class Base64Error(FormatError):
    """A field that must be standard, padded base64 is not."""


class RoleTypeError(FormatError):
    """The ``_type`` field does not match the role being parsed."""


class InvalidRoleNameError(FormatError):
    """A role name is neither a base role nor a valid delegation name."""


class KeyFormatError(FormatError):
    """A key object is malformed or its public bytes do not parse."""


# --- Verification -------------------------------------------------------------


class VerificationError(NotaryTufError):
    """Well-formed input that must not be trusted."""


class SignatureError(VerificationError):
    """A single signature does not verify."""


class InvalidSignatureError(SignatureError):
    """The signature bytes do not verify over the message with the key."""


class UnknownMethodError(SignatureError):
    """The signature ``method`` is not one Notary can verify."""


class KeyMethodMismatchError(SignatureError):
    """The key type cannot be used with the signature method (NCC 2015 finding 1)."""


class KeyIDMismatchError(VerificationError):
    """A signing key's computed ID differs from the ID it is listed under.

    Go treats this as a hard failure of the whole check (``ErrInvalidKeyID``).
    """


class NoSignaturesError(VerificationError):
    """Metadata carries no signatures at all."""


class ThresholdError(VerificationError):
    """Fewer distinct valid signatures than the role's threshold."""


class ExpiredError(VerificationError):
    """Metadata whose ``expires`` lies in the past."""


class LowVersionError(VerificationError):
    """Metadata whose version is below the minimum allowed."""


class HashMismatchError(VerificationError):
    """Bytes do not match the hashes recorded for them (Go ``ErrMismatchedChecksum``)."""


class MissingHashError(VerificationError):
    """No supported hash is recorded for a file (Go ``ErrMissingMeta``)."""


class CertificateError(VerificationError):
    """A root key certificate is unusable."""


class CertificateExpiredError(CertificateError):
    """A certificate is outside its validity period."""


class CertificateNameError(CertificateError):
    """A certificate's common name does not match the GUN."""


class WeakCertificateError(CertificateError):
    """A certificate uses SHA-1 or an RSA key below 2048 bits."""


# --- Update validation (Go tuf/validation/errors.go) --------------------------


class ValidationError(NotaryTufError):
    """An upload is not a valid update of the repository (Go ``ErrValidation``).

    Attributes:
        msg: Go's ``Msg`` field, the human-readable reason.
    """

    go_name: ClassVar[str] = "ErrValidation"
    go_prefix: ClassVar[str] = "An error occurred during validation"

    def __init__(self, msg: str) -> None:
        """Create the error with Go's ``Msg`` text."""
        super().__init__(f"{self.go_prefix}: {msg}")
        self.msg = msg

    def go_fields(self) -> dict[str, Any]:
        """Return the exported fields Go serialises for this error."""
        return {"Msg": self.msg}

    def to_detail(self) -> dict[str, Any]:
        """Return the ``INVALID_UPDATE`` detail, Go's ``SerializableError`` shape."""
        return {"Name": self.go_name, "Error": self.go_fields()}


class BadHierarchyError(ValidationError):
    """A role the update needs is missing (Go ``ErrBadHierarchy``)."""

    go_name = "ErrBadHierarchy"
    go_prefix = "Metadata hierarchy is incomplete"

    def __init__(self, missing: str, msg: str) -> None:
        """Create the error naming the ``missing`` role."""
        super().__init__(msg)
        self.missing = missing

    def go_fields(self) -> dict[str, Any]:
        """Return the exported fields Go serialises for this error."""
        return {"Missing": self.missing, "Msg": self.msg}


class BadRootError(ValidationError):
    """The root in the update (or stored) is invalid (Go ``ErrBadRoot``)."""

    go_name = "ErrBadRoot"
    go_prefix = "The root metadata is invalid"


class BadTargetsError(ValidationError):
    """A targets or delegation role in the update is invalid (Go ``ErrBadTargets``)."""

    go_name = "ErrBadTargets"
    go_prefix = "The targets metadata is invalid"


class BadSnapshotError(ValidationError):
    """The snapshot in the update is invalid (Go ``ErrBadSnapshot``)."""

    go_name = "ErrBadSnapshot"
    go_prefix = "The snapshot metadata is invalid"
